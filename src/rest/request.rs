//! Building a method's input message from an HTTP request, as grpc-gateway does: the body (per
//! the rule's `body`), then the path variables, then the query parameters for the fields
//! neither binds, merged into one proto3 JSON object that the descriptors then decode.

use prost_reflect::{DeserializeOptions, DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Number, Value};

use super::error::RestError;
use super::gateway::{BodyRule, Route};

/// Well-known messages whose JSON form is a single string or number, so that a path variable
/// or a query parameter can carry them.
const SCALAR_MESSAGES: [&str; 12] = [
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
    "google.protobuf.DoubleValue",
    "google.protobuf.FloatValue",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.Int32Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
];

/// Whether a message is a well-known type written as a single text value.
pub(crate) fn is_text_message(message: &MessageDescriptor) -> bool {
    SCALAR_MESSAGES.contains(&message.full_name())
}

/// Whether a message is one of the well-known types whose JSON form is special (a string, a
/// number or free-form JSON): those are values, never objects of their fields.
pub(crate) fn is_well_known(message: &MessageDescriptor) -> bool {
    message.package_name() == "google.protobuf"
}

/// A path of fields from a message down to the field a single text value sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    /// The singular message fields on the way, outermost first.
    parents: Vec<FieldDescriptor>,
    /// The field set: a scalar, an enum, a list of those, or a well-known type written as text.
    pub(crate) leaf: FieldDescriptor,
}

impl FieldPath {
    /// Every field of the path, outermost first.
    pub(crate) fn fields(&self) -> impl Iterator<Item = &FieldDescriptor> {
        self.parents.iter().chain(std::iter::once(&self.leaf))
    }
}

/// Resolves a dotted field path (each part a proto or JSON name) down to a field that a single
/// text value can set: a scalar, an enum, or a well-known type written as a string.
pub(crate) fn leaf_fields<'a>(
    message: &MessageDescriptor,
    path: impl IntoIterator<Item = &'a str>,
) -> Result<FieldPath, String> {
    let mut parents: Vec<FieldDescriptor> = Vec::new();
    let mut leaf: Option<FieldDescriptor> = None;
    let mut current = message.clone();
    for part in path {
        if let Some(parent) = leaf.take() {
            match parent.kind() {
                Kind::Message(inner) if !parent.is_list() && !parent.is_map() && !is_well_known(&inner) => {
                    current = inner;
                }
                _ => return Err(format!("{} has no fields to set", parent.name())),
            }
            parents.push(parent);
        }
        leaf = Some(
            find_field(&current, part).ok_or_else(|| format!("no field {part:?} in {}", current.name()))?,
        );
    }
    let leaf = leaf.ok_or("an empty field path")?;
    match leaf.kind() {
        _ if leaf.is_map() => Err("a map cannot be set this way".to_owned()),
        Kind::Message(inner) if !is_text_message(&inner) => {
            Err(format!("{} is a message: set its fields, as {}.field=value", leaf.name(), leaf.name()))
        }
        _ => Ok(FieldPath { parents, leaf }),
    }
}

/// The input message of `route` for a request with these path variables, query and body.
pub(crate) fn input_message(
    route: &Route,
    bindings: Vec<(Vec<String>, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<DynamicMessage, RestError> {
    let input = route.method.input();
    let mut root = match &route.body {
        BodyRule::Empty => Map::new(),
        BodyRule::Whole => match parse_body(body, body_name(&route.body))? {
            None => Map::new(),
            Some(Value::Object(fields)) => fields,
            Some(_) => return Err(RestError::bad_request("body", "must be a JSON object")),
        },
        BodyRule::Field(field) => {
            let mut root = Map::new();
            if let Some(value) = parse_body(body, field.name())? {
                root.insert(field.name().to_owned(), value);
            }
            root
        }
    };

    // Path variables override what the body says of the same fields.
    let mut bound: Vec<FieldPath> = Vec::new();
    for (path, text) in bindings {
        let name = path.join(".");
        let field_path = leaf_fields(&input, path.iter().map(String::as_str))
            .map_err(|why| RestError::bad_request(&name, why))?;
        let value = text_value(&field_path.leaf, &text).map_err(|why| RestError::bad_request(&name, why))?;
        insert(&mut root, &field_path.parents, &field_path.leaf, value);
        bound.push(field_path);
    }

    for (key, field_path, texts) in query_parameters(&input, query)? {
        let bound_elsewhere =
            match &route.body {
                BodyRule::Whole => true,
                BodyRule::Field(body) => field_path.fields().next() == Some(body),
                BodyRule::Empty => false,
            } || bound.iter().any(|path| path.fields().zip(field_path.fields()).all(|(a, b)| a == b));
        if bound_elsewhere {
            return Err(RestError::bad_request(&key, "is set by the path or the body, not the query"));
        }
        let leaf = &field_path.leaf;
        let value = if leaf.is_list() {
            texts.iter().map(|text| text_value(leaf, text)).collect::<Result<Vec<_>, _>>().map(Value::Array)
        } else if let [text] = texts.as_slice() {
            text_value(leaf, text)
        } else {
            Err("is given more than once".to_owned())
        };
        insert(&mut root, &field_path.parents, leaf, value.map_err(|why| RestError::bad_request(&key, why))?);
    }

    let root = Value::Object(root);
    DynamicMessage::deserialize_with_options(input.clone(), &root, &DeserializeOptions::new()).map_err(|e| {
        let located = match &root {
            Value::Object(fields) => locate_error(&input, fields, ""),
            _ => None,
        };
        // Not pinned on one field (a field given under both its names, say): blame the body.
        let (field, why) = located.unwrap_or_else(|| (body_name(&route.body).to_owned(), e.to_string()));
        RestError::bad_request(&field, why)
    })
}

/// The name errors of the body give: the body field, or `body` for the whole request.
fn body_name(rule: &BodyRule) -> &str {
    match rule {
        BodyRule::Field(field) => field.name(),
        BodyRule::Empty | BodyRule::Whole => "body",
    }
}

/// The body as JSON; `None` when it is empty.
fn parse_body(body: &[u8], field: &str) -> Result<Option<Value>, RestError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| RestError::bad_request(field, format!("malformed JSON: {e}")))
}

/// The query's parameters grouped by the field they set (a key repeats for a repeated field):
/// each as the key first given, the path of fields, and the values.
fn query_parameters(
    input: &MessageDescriptor,
    query: Option<&str>,
) -> Result<Vec<(String, FieldPath, Vec<String>)>, RestError> {
    let mut parameters: Vec<(String, FieldPath, Vec<String>)> = Vec::new();
    for (key, text) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let path = leaf_fields(input, key.split('.')).map_err(|why| RestError::bad_request(&key, why))?;
        match parameters.iter_mut().find(|(_, known, _)| *known == path) {
            Some((_, _, texts)) => texts.push(text.into_owned()),
            None => parameters.push((key.into_owned(), path, vec![text.into_owned()])),
        }
    }
    Ok(parameters)
}

/// A field by its proto name or its JSON name, as the proto3 JSON mapping accepts both.
fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message.get_field_by_name(name).or_else(|| message.get_field_by_json_name(name))
}

/// One text value (of a path variable or a query parameter) as the JSON the field takes:
/// numbers checked and 64-bit ones as strings, booleans as `strconv.ParseBool` reads them,
/// enums by name or number, a field mask's paths in camelCase, the rest as strings that the
/// descriptors check when the message is decoded.
pub(crate) fn text_value(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    kind_value(&field.kind(), text)
}

fn kind_value(kind: &Kind, text: &str) -> Result<Value, String> {
    fn number<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
        text.trim().parse().map_err(|_| format!("{text:?} is not {what}"))
    }
    Ok(match kind {
        Kind::String | Kind::Bytes => Value::String(text.to_owned()),
        Kind::Bool => Value::Bool(match text {
            "true" | "True" | "TRUE" | "t" | "T" | "1" => true,
            "false" | "False" | "FALSE" | "f" | "F" | "0" => false,
            _ => return Err(format!("{text:?} is not a boolean")),
        }),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::from(number::<i32>(text, "a 32-bit integer")?),
        Kind::Uint32 | Kind::Fixed32 => Value::from(number::<u32>(text, "an unsigned 32-bit integer")?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            Value::String(number::<i64>(text, "a 64-bit integer")?.to_string())
        }
        Kind::Uint64 | Kind::Fixed64 => {
            Value::String(number::<u64>(text, "an unsigned 64-bit integer")?.to_string())
        }
        Kind::Float | Kind::Double => match text {
            "NaN" | "Infinity" | "-Infinity" => Value::String(text.to_owned()),
            _ => Number::from_f64(number::<f64>(text, "a number")?)
                .map(Value::Number)
                .ok_or_else(|| format!("{text:?} is not a number"))?,
        },
        Kind::Enum(enumeration) => {
            let value = enumeration
                .get_value_by_name(text)
                .or_else(|| text.parse::<i32>().ok().and_then(|number| enumeration.get_value(number)));
            match value {
                Some(value) => Value::String(value.name().to_owned()),
                None => {
                    let names: Vec<String> = enumeration.values().map(|v| v.name().to_owned()).collect();
                    return Err(format!("{text:?} is not one of {}", names.join(", ")));
                }
            }
        }
        Kind::Message(message) => match message.full_name() {
            "google.protobuf.FieldMask" => Value::String(
                text.split(',')
                    .map(|path| path.split('.').map(camel_case).collect::<Vec<_>>().join("."))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            "google.protobuf.Timestamp" | "google.protobuf.Duration" => Value::String(text.to_owned()),
            // A wrapper's JSON is its value's.
            _ if is_text_message(message) => match message.get_field_by_name("value") {
                Some(inner) => kind_value(&inner.kind(), text)?,
                None => return Err(format!("{} has no value", message.full_name())),
            },
            other => return Err(format!("{other} cannot be given as text")),
        },
    })
}

/// A field name in camelCase, as the JSON form of a field mask spells paths (`update_time` →
/// `updateTime`; a name already in camelCase stays).
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Sets `value` at the field `leaf` under `parents` of a JSON object, creating the objects on
/// the way. A key under a field's JSON name is renamed to its proto name first, so that a value
/// from the path replaces the body's whichever name the body used.
fn insert(
    object: &mut Map<String, Value>,
    parents: &[FieldDescriptor],
    leaf: &FieldDescriptor,
    value: Value,
) {
    let field = parents.first().unwrap_or(leaf);
    if field.json_name() != field.name()
        && let Some(existing) = object.remove(field.json_name())
    {
        object.entry(field.name()).or_insert(existing);
    }
    let Some((parent, rest)) = parents.split_first() else {
        object.insert(leaf.name().to_owned(), value);
        return;
    };
    let entry = object.entry(parent.name()).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(inner) = entry {
        insert(inner, rest, leaf, value);
    }
}

/// The field the descriptors refuse, and why: each key is decoded alone, and the search goes
/// down into nested messages (and their lists) to name the innermost culprit.
fn locate_error(
    message: &MessageDescriptor,
    object: &Map<String, Value>,
    prefix: &str,
) -> Option<(String, String)> {
    for (key, value) in object {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let Some(field) = find_field(message, key) else {
            return Some((path, "no such field".to_owned()));
        };
        let alone = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        let Err(error) =
            DynamicMessage::deserialize_with_options(message.clone(), &alone, &DeserializeOptions::new())
        else {
            continue;
        };
        if let Kind::Message(inner) = field.kind()
            && !field.is_map()
            && !is_well_known(&inner)
        {
            let found = match value {
                Value::Object(fields) if !field.is_list() => locate_error(&inner, fields, &path),
                Value::Array(items) if field.is_list() => items.iter().enumerate().find_map(|(i, item)| {
                    item.as_object().and_then(|fields| locate_error(&inner, fields, &format!("{path}[{i}]")))
                }),
                _ => None,
            };
            if found.is_some() {
                return found;
            }
        }
        return Some((path, error.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn message(name: &str) -> MessageDescriptor {
        super::super::descriptor_pool().get_message_by_name(name).unwrap()
    }

    fn field(message_name: &str, path: &str) -> FieldDescriptor {
        leaf_fields(&message(message_name), path.split('.')).unwrap().leaf
    }

    #[test]
    fn text_values_follow_the_field_kind() {
        let value = |m: &str, f: &str, text: &str| text_value(&field(m, f), text);
        assert_eq!(value("dataportal.v1.ListTablesRequest", "page_size", "20"), Ok(json!(20)));
        assert!(
            value("dataportal.v1.ListTablesRequest", "page_size", "twenty").unwrap_err().contains("twenty")
        );
        assert!(value("dataportal.v1.ListTablesRequest", "page_size", "3000000000").is_err());
        assert_eq!(value("dataportal.v1.GetTableRequest", "id", "42"), Ok(json!("42")));
        assert_eq!(value("dataportal.v1.GetTableRequest", "name", "a b"), Ok(json!("a b")));
        assert_eq!(
            value("dataportal.v1.CreateTaskRequest", "register_missing_tables", "true"),
            Ok(json!(true))
        );
        assert_eq!(
            value("dataportal.v1.CreateTaskRequest", "register_missing_tables", "0"),
            Ok(json!(false))
        );
        assert!(value("dataportal.v1.CreateTaskRequest", "register_missing_tables", "yes").is_err());
        assert_eq!(value("dataportal.v1.ListTablesRequest", "layer", "LAYER_DWD"), Ok(json!("LAYER_DWD")));
        assert_eq!(value("dataportal.v1.ListTablesRequest", "layer", "2"), Ok(json!("LAYER_DWD")));
        assert!(value("dataportal.v1.ListTablesRequest", "layer", "dwd").unwrap_err().contains("LAYER_ODS"));
        assert!(value("dataportal.v1.ListTablesRequest", "layer", "99").is_err());
        assert_eq!(
            value("dataportal.v1.UpdateTableRequest", "update_mask", "description,create_time,table.fields"),
            Ok(json!("description,createTime,table.fields"))
        );
        assert_eq!(
            value("dataportal.v1.UpdateTableRequest", "update_mask", "createTime"),
            Ok(json!("createTime"))
        );
        assert_eq!(value("dataportal.v1.Task", "retry_interval", "30s"), Ok(json!("30s")));
    }

    #[test]
    fn paths_resolve_by_proto_or_json_name_down_to_a_leaf() {
        let update = message("dataportal.v1.UpdateTableRequest");
        let names = |path: &str| {
            leaf_fields(&update, path.split('.'))
                .map(|p| p.fields().map(|f| f.name().to_owned()).collect::<Vec<_>>())
        };
        assert_eq!(names("table.id"), Ok(vec!["table".to_owned(), "id".to_owned()]));
        assert_eq!(names("table.createTime"), Ok(vec!["table".to_owned(), "create_time".to_owned()]));
        assert_eq!(names("updateMask"), Ok(vec!["update_mask".to_owned()]));
        assert!(names("table").unwrap_err().contains("table.field=value"));
        assert!(names("table.colour").is_err());
        assert!(names("table.fields.name").is_err(), "a repeated message is not a path");
        assert!(names("table.create_time.seconds").is_err(), "a well-known type is a value");
    }

    #[test]
    fn values_from_the_path_replace_the_body_under_either_name() {
        let update = message("dataportal.v1.AcknowledgeDriftRequest");
        let path = leaf_fields(&update, ["table_id"]).unwrap();
        let mut body = json!({"tableId": "5"}).as_object().unwrap().clone();
        insert(&mut body, &path.parents, &path.leaf, json!("7"));
        assert_eq!(Value::Object(body), json!({"table_id": "7"}));
        let nested = leaf_fields(&message("dataportal.v1.UpdateTableRequest"), ["table", "id"]).unwrap();
        let mut body = json!({"table": {"name": "x"}}).as_object().unwrap().clone();
        insert(&mut body, &nested.parents, &nested.leaf, json!("3"));
        assert_eq!(Value::Object(body), json!({"table": {"name": "x", "id": "3"}}));
    }

    #[test]
    fn the_refused_field_is_named() {
        let create = message("dataportal.v1.CreateTableRequest");
        let body = json!({"table": {"name": "t", "fields": [{"name": "id"}, {"position": "first"}]}});
        let (field, _) = locate_error(&create, body.as_object().unwrap(), "").unwrap();
        assert_eq!(field, "table.fields[1].position");
        let unknown = json!({"table": {"colour": "blue"}});
        assert_eq!(locate_error(&create, unknown.as_object().unwrap(), "").unwrap().0, "table.colour");
        let fine =
            json!({"table": {"name": "t", "layer": "LAYER_ODS", "createTime": "2025-01-01T00:00:00Z"}});
        assert_eq!(locate_error(&create, fine.as_object().unwrap(), ""), None);
    }
}
