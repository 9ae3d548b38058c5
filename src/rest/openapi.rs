//! An OpenAPI 3.0 document of the REST API, generated from the same route table and message
//! descriptors the gateway serves from, with the proto comments as descriptions.
//!
//! Schemas follow the proto3 JSON mapping: 64-bit integers are strings, enums are strings of
//! their value names, well-known types take their JSON forms, a oneof's fields are plain
//! optional properties, and no property is required (proto3 has no required fields).

use std::collections::{BTreeMap, HashMap};

use prost_reflect::{DescriptorPool, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value, json};

use super::gateway::{BodyRule, Route, RouteTable};
use super::request::{FieldPath, is_text_message, is_well_known, leaf_fields};

/// Name of the error schema in `components.schemas`.
const STATUS_SCHEMA: &str = "google.rpc.Status";
/// Name of the schema of each error detail.
const ANY_SCHEMA: &str = "google.protobuf.Any";
/// The HTTP methods an OpenAPI path item can describe.
const OPENAPI_METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The document, as JSON.
pub(crate) fn document(table: &RouteTable) -> Value {
    let mut builder = Builder::default();
    let mut paths: BTreeMap<String, Map<String, Value>> = BTreeMap::new();
    for route in table.routes() {
        let method = route.http_method.as_str().to_ascii_lowercase();
        // A custom verb other than these has no place in OpenAPI.
        if OPENAPI_METHODS.contains(&method.as_str()) {
            let operation = builder.operation(route);
            paths.entry(route.template.openapi_path()).or_default().insert(method, operation);
        }
    }
    let mut schemas = builder.finish();
    schemas.insert(
        STATUS_SCHEMA.to_owned(),
        json!({
            "type": "object",
            "description": "An error: the gRPC code, a message, and google.rpc details (ErrorInfo, BadRequest, …).",
            "properties": {
                "code": {"type": "integer", "format": "int32", "description": "The gRPC status code."},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"$ref": schema_ref(ANY_SCHEMA)}},
            },
        }),
    );
    schemas.insert(
        ANY_SCHEMA.to_owned(),
        json!({
            "type": "object",
            "description": "A message of the type `@type` names, in its JSON form.",
            "properties": {"@type": {"type": "string"}},
            "additionalProperties": true,
        }),
    );
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "dataportal",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The data portal's gRPC API over HTTP/JSON (proto3 JSON mapping), generated from its google.api.http annotations.",
        },
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn schema_ref(name: &str) -> String {
    format!("#/components/schemas/{name}")
}

/// Where the search for query parameters is.
struct Visit<'a> {
    /// The fields the path sets.
    bound: &'a [FieldPath],
    /// The field the body sets, if only one.
    body: Option<&'a FieldDescriptor>,
    /// The fields from the request down to the current one.
    prefix: Vec<FieldDescriptor>,
    /// The messages being flattened, the request first, so that a recursive one ends.
    visiting: Vec<MessageDescriptor>,
}

/// Collects schemas while operations are described.
#[derive(Default)]
struct Builder {
    comments: Comments,
    schemas: BTreeMap<String, Value>,
    pending: Vec<MessageDescriptor>,
}

impl Builder {
    fn operation(&mut self, route: &Route) -> Value {
        let method = &route.method;
        let service = method.parent_service().name();
        let mut operation_id = format!("{service}_{}", method.name());
        if route.binding_index > 0 {
            // Operation ids are unique; additional bindings are numbered as grpc-gateway does.
            operation_id.push_str(&(route.binding_index + 1).to_string());
        }
        let mut operation = Map::new();
        operation.insert("operationId".into(), json!(operation_id));
        operation.insert("tags".into(), json!([service]));
        if let Some(text) = self.comments.of(method.parent_pool(), method.parent_file().name(), method.path())
        {
            let summary = first_sentence(&text);
            if summary != text {
                operation.insert("description".into(), json!(text));
            }
            operation.insert("summary".into(), json!(summary));
        }

        let input = method.input();
        let bound: Vec<FieldPath> = route
            .template
            .field_paths()
            .filter_map(|path| leaf_fields(&input, path.iter().map(String::as_str)).ok())
            .collect();
        let mut parameters = Vec::new();
        for path in &bound {
            let name: Vec<&str> = path.fields().map(FieldDescriptor::name).collect();
            parameters.push(self.parameter(name.join("."), "path", &path.leaf));
        }
        if !matches!(route.body, BodyRule::Whole) {
            let body_field = match &route.body {
                BodyRule::Field(field) => Some(field),
                _ => None,
            };
            let mut visit =
                Visit { bound: &bound, body: body_field, prefix: Vec::new(), visiting: vec![input.clone()] };
            self.query_parameters(&input, &mut visit, &mut parameters);
        }
        if !parameters.is_empty() {
            operation.insert("parameters".into(), Value::Array(parameters));
        }

        let request_schema = match &route.body {
            BodyRule::Empty => None,
            BodyRule::Field(field) => Some(self.field_schema(field)),
            BodyRule::Whole => {
                let in_path: Vec<&FieldDescriptor> =
                    bound.iter().filter(|path| path.fields().count() == 1).map(|path| &path.leaf).collect();
                if in_path.is_empty() {
                    Some(self.reference(&input))
                } else {
                    // The body is the request but for the fields the path carries.
                    Some(self.message_schema(&input, &in_path))
                }
            }
        };
        if let Some(schema) = request_schema {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }

        let output = match &route.response_body {
            Some(field) => self.field_schema(field),
            None => self.reference(&method.output()),
        };
        let success = if method.is_server_streaming() {
            json!({
                "description": "A stream of newline-delimited JSON objects: {\"result\": …} for each message, and a last {\"error\": …} if the stream fails.",
                "content": {"application/x-ndjson": {"schema": {
                    "type": "object",
                    "properties": {"result": output, "error": {"$ref": schema_ref(STATUS_SCHEMA)}},
                }}},
            })
        } else {
            json!({"description": "OK", "content": {"application/json": {"schema": output}}})
        };
        operation.insert(
            "responses".into(),
            json!({
                "200": success,
                "default": {
                    "description": "An error, with the HTTP status of its gRPC code.",
                    "content": {"application/json": {"schema": {"$ref": schema_ref(STATUS_SCHEMA)}}},
                },
            }),
        );
        Value::Object(operation)
    }

    /// Query parameters for every leaf field neither the path nor the body sets, nested
    /// messages flattened to `a.b` (as the gateway reads them).
    fn query_parameters(
        &mut self,
        message: &MessageDescriptor,
        visit: &mut Visit<'_>,
        parameters: &mut Vec<Value>,
    ) {
        for field in message.fields() {
            visit.prefix.push(field.clone());
            let in_path =
                visit.bound.iter().any(|path| path.fields().zip(&visit.prefix).all(|(a, b)| a == b));
            let in_body = visit.prefix.len() == 1 && visit.body == Some(&field);
            if !(in_path || in_body || field.is_map()) {
                match field.kind() {
                    Kind::Message(inner) if is_text_message(&inner) => {
                        self.query_parameter(&field, visit, parameters)
                    }
                    // Neither text nor fields to flatten (or flattening would never end).
                    Kind::Message(inner)
                        if field.is_list() || is_well_known(&inner) || visit.visiting.contains(&inner) => {}
                    Kind::Message(inner) => {
                        visit.visiting.push(inner.clone());
                        self.query_parameters(&inner, visit, parameters);
                        visit.visiting.pop();
                    }
                    _ => self.query_parameter(&field, visit, parameters),
                }
            }
            visit.prefix.pop();
        }
    }

    fn query_parameter(&mut self, field: &FieldDescriptor, visit: &Visit<'_>, parameters: &mut Vec<Value>) {
        let name: Vec<&str> = visit.prefix.iter().map(FieldDescriptor::name).collect();
        let mut parameter = self.parameter(name.join("."), "query", field);
        if field.is_list() {
            // A repeated field repeats its key: `?a=1&a=2`.
            parameter["style"] = json!("form");
            parameter["explode"] = json!(true);
        }
        parameters.push(parameter);
    }

    /// A path or query parameter that sets `field`, described by the field's comment.
    fn parameter(&mut self, name: String, location: &str, field: &FieldDescriptor) -> Value {
        let mut schema = self.field_schema(field);
        let description = schema.as_object_mut().and_then(|schema| schema.remove("description"));
        // Without its description, a wrapped $ref needs no wrapper.
        if let Some([only]) = schema.get("allOf").and_then(Value::as_array).map(Vec::as_slice)
            && schema.as_object().is_some_and(|s| s.len() == 1)
        {
            schema = only.clone();
        }
        let mut parameter =
            json!({"name": name, "in": location, "required": location == "path", "schema": schema});
        if let Some(description) = description {
            parameter["description"] = description;
        }
        parameter
    }

    /// A reference to a message's schema (its JSON form inline for well-known types).
    fn reference(&mut self, message: &MessageDescriptor) -> Value {
        if let Some(schema) = well_known_schema(message.full_name()) {
            return schema;
        }
        if !self.schemas.contains_key(message.full_name()) && !self.pending.contains(message) {
            self.pending.push(message.clone());
        }
        json!({"$ref": schema_ref(message.full_name())})
    }

    fn enum_reference(&mut self, enumeration: &EnumDescriptor) -> Value {
        let name = enumeration.full_name();
        if !self.schemas.contains_key(name) {
            let mut schema = json!({
                "type": "string",
                "enum": enumeration.values().map(|v| v.name().to_owned()).collect::<Vec<_>>(),
            });
            if let Some(text) = self.comments.of(
                enumeration.parent_pool(),
                enumeration.parent_file().name(),
                enumeration.path(),
            ) {
                schema["description"] = json!(text);
            }
            self.schemas.insert(name.to_owned(), schema);
        }
        json!({"$ref": schema_ref(name)})
    }

    /// A message's schema, leaving out `omit`.
    fn message_schema(&mut self, message: &MessageDescriptor, omit: &[&FieldDescriptor]) -> Value {
        let mut properties = Map::new();
        for field in message.fields().filter(|f| !omit.contains(&f)) {
            properties.insert(field.json_name().to_owned(), self.field_schema(&field));
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if let Some(text) =
            self.comments.of(message.parent_pool(), message.parent_file().name(), message.path())
        {
            schema["description"] = json!(text);
        }
        schema
    }

    /// A field's schema: its kind's, in an array when repeated, an object when a map.
    fn field_schema(&mut self, field: &FieldDescriptor) -> Value {
        let mut schema = match field.kind() {
            Kind::Message(entry) if field.is_map() => {
                let value = self.kind_schema(&entry.map_entry_value_field().kind());
                json!({"type": "object", "additionalProperties": value})
            }
            kind if field.is_list() => json!({"type": "array", "items": self.kind_schema(&kind)}),
            kind => self.kind_schema(&kind),
        };
        if let Some(text) = self.comments.of(field.parent_pool(), field.parent_file().name(), field.path()) {
            if schema.get("$ref").is_some() {
                // Siblings of $ref are ignored in OpenAPI 3.0: wrap it to keep the description.
                schema = json!({"allOf": [schema]});
            }
            schema["description"] = json!(text);
        }
        schema
    }

    fn kind_schema(&mut self, kind: &Kind) -> Value {
        match kind {
            Kind::Double => json!({"type": "number", "format": "double"}),
            Kind::Float => json!({"type": "number", "format": "float"}),
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => json!({"type": "integer", "format": "int32"}),
            Kind::Uint32 | Kind::Fixed32 => json!({"type": "integer", "format": "int64", "minimum": 0}),
            Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => json!({"type": "string", "format": "int64"}),
            Kind::Uint64 | Kind::Fixed64 => json!({"type": "string", "format": "uint64"}),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::String => json!({"type": "string"}),
            Kind::Bytes => json!({"type": "string", "format": "byte"}),
            Kind::Enum(enumeration) => self.enum_reference(enumeration),
            Kind::Message(message) => self.reference(message),
        }
    }

    /// Every schema referred to, messages described once each.
    fn finish(mut self) -> BTreeMap<String, Value> {
        while let Some(message) = self.pending.pop() {
            if self.schemas.contains_key(message.full_name()) {
                continue;
            }
            // Inserted before its fields are described, so that a recursive message ends.
            self.schemas.insert(message.full_name().to_owned(), Value::Null);
            let schema = self.message_schema(&message, &[]);
            self.schemas.insert(message.full_name().to_owned(), schema);
        }
        self.schemas
    }
}

/// The JSON form of a well-known type whose JSON is not an object of its fields.
fn well_known_schema(name: &str) -> Option<Value> {
    Some(match name {
        "google.protobuf.Timestamp" => json!({"type": "string", "format": "date-time"}),
        "google.protobuf.Duration" => {
            json!({"type": "string", "description": "Seconds with an `s` suffix, such as `3.5s`."})
        }
        "google.protobuf.FieldMask" => {
            json!({"type": "string", "description": "Field paths separated by commas, such as `description,owner`."})
        }
        "google.protobuf.Struct" => json!({"type": "object", "additionalProperties": true}),
        "google.protobuf.Value" => json!({"description": "Any JSON value."}),
        "google.protobuf.ListValue" => json!({"type": "array", "items": {}}),
        "google.protobuf.Empty" => json!({"type": "object"}),
        "google.protobuf.Any" => json!({"$ref": schema_ref(ANY_SCHEMA)}),
        "google.protobuf.DoubleValue" => json!({"type": "number", "format": "double"}),
        "google.protobuf.FloatValue" => json!({"type": "number", "format": "float"}),
        "google.protobuf.Int64Value" => json!({"type": "string", "format": "int64"}),
        "google.protobuf.UInt64Value" => json!({"type": "string", "format": "uint64"}),
        "google.protobuf.Int32Value" => json!({"type": "integer", "format": "int32"}),
        "google.protobuf.UInt32Value" => json!({"type": "integer", "format": "int64", "minimum": 0}),
        "google.protobuf.BoolValue" => json!({"type": "boolean"}),
        "google.protobuf.StringValue" => json!({"type": "string"}),
        "google.protobuf.BytesValue" => json!({"type": "string", "format": "byte"}),
        _ => return None,
    })
}

/// The first sentence of a comment, on one line.
fn first_sentence(text: &str) -> String {
    let paragraph = text.split("\n\n").next().unwrap_or_default().replace('\n', " ");
    match paragraph.find(". ") {
        Some(end) => paragraph[..=end].to_owned(),
        None => paragraph,
    }
}

/// The leading comments of the descriptors, by file and source path, when the descriptor set
/// carries source info (prost-build asks protoc for it).
#[derive(Default)]
struct Comments {
    by_path: Option<HashMap<(String, Vec<i32>), String>>,
}

impl Comments {
    fn of(&mut self, pool: &DescriptorPool, file: &str, path: &[i32]) -> Option<String> {
        let by_path = self.by_path.get_or_insert_with(|| {
            let mut by_path = HashMap::new();
            for file in pool.files() {
                let Some(info) = &file.file_descriptor_proto().source_code_info else { continue };
                for location in &info.location {
                    let Some(text) = location.leading_comments.as_deref().map(clean_comment) else {
                        continue;
                    };
                    if !text.is_empty() {
                        by_path.insert((file.name().to_owned(), location.path.clone()), text);
                    }
                }
            }
            by_path
        });
        by_path.get(&(file.to_owned(), path.to_vec())).cloned()
    }
}

/// A comment without the space after each `//`.
fn clean_comment(raw: &str) -> String {
    raw.lines().map(str::trim).collect::<Vec<_>>().join("\n").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        super::document(super::super::route_table())
    }

    #[test]
    fn operations_have_ids_comments_parameters_and_schemas() {
        let doc = document();
        let get = &doc["paths"]["/api/v1/tables/{id}"]["get"];
        assert_eq!(get["operationId"], "TableService_GetTable");
        assert_eq!(get["summary"], "Reads one table by id or by name.");
        assert_eq!(get["parameters"][0]["in"], "path");
        assert_eq!(get["parameters"][0]["schema"]["type"], "string");
        assert_eq!(get["parameters"][0]["schema"]["format"], "int64");
        assert_eq!(get["parameters"][0]["description"], "The table's id.");
        assert_eq!(
            doc["paths"]["/api/v1/tables/by-name/{name}"]["get"]["operationId"],
            "TableService_GetTable2"
        );

        let list = &doc["paths"]["/api/v1/tables"]["get"];
        let query: Vec<&str> =
            list["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert!(query.contains(&"page_size") && query.contains(&"layer"), "{query:?}");
        let layer = list["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "layer").unwrap();
        assert_eq!(layer["schema"], json!({"$ref": "#/components/schemas/dataportal.v1.Layer"}));
        assert_eq!(layer["description"], "Only tables of this layer.");

        let update = &doc["paths"]["/api/v1/tables/{table.id}"]["patch"];
        let names: Vec<&str> =
            update["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["table.id", "update_mask"], "the body's field is not a query parameter");
        assert_eq!(
            update["requestBody"]["content"]["application/json"]["schema"]["allOf"][0]["$ref"],
            "#/components/schemas/dataportal.v1.Table"
        );

        let schemas = &doc["components"]["schemas"];
        let table = &schemas["dataportal.v1.Table"]["properties"];
        assert_eq!(table["id"]["format"], "int64");
        assert_eq!(table["createTime"]["format"], "date-time");
        assert_eq!(table["fields"]["type"], "array");
        assert_eq!(schemas["dataportal.v1.Layer"]["enum"][1], "LAYER_ODS");
        assert!(schemas["dataportal.v1.Table"]["description"].as_str().unwrap().starts_with("A dataset"));
        let task = &schemas["dataportal.v1.Task"]["properties"];
        assert!(
            task.get("sql").is_some() && task.get("shell").is_some(),
            "oneof fields are plain properties"
        );
        assert_eq!(task["retryInterval"]["type"], "string");
    }

    #[test]
    fn sentences() {
        assert_eq!(first_sentence("Reads one.\nThen more."), "Reads one.");
        assert_eq!(first_sentence("One line"), "One line");
        assert_eq!(first_sentence("A. B"), "A.");
    }
}
