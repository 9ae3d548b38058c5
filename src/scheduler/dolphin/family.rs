//! Every difference between the version families (§4), and their detection.

use serde_json::Value;

use super::Family;
use super::model::{int, malformed};
use super::transport::{Call, Outcome, Transport, outcome_error};
use crate::error::Result;

/// What a start call answers (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Started {
    /// 3.1: nothing; the instance is found by the marker in its start parameters.
    Unknown,
    /// 3.2: a trigger code, resolved through `process-instances/trigger`.
    Trigger(i64),
    /// 3.3+: the instance id.
    Instance(i64),
}

impl Family {
    /// Base path of workflow definitions (§7.1).
    pub(crate) fn definitions(self, project: i64) -> String {
        match self {
            Family::V3_1 | Family::V3_2 => format!("projects/{project}/process-definition"),
            Family::V3_3 => format!("projects/{project}/workflow-definition"),
        }
    }

    /// Base path of workflow instances (§10.1).
    pub(crate) fn instances(self, project: i64) -> String {
        match self {
            Family::V3_1 | Family::V3_2 => format!("projects/{project}/process-instances"),
            Family::V3_3 => format!("projects/{project}/workflow-instances"),
        }
    }

    /// The start endpoint (§9.1).
    pub(crate) fn start_path(self, project: i64) -> String {
        match self {
            Family::V3_1 | Family::V3_2 => format!("projects/{project}/executors/start-process-instance"),
            Family::V3_3 => format!("projects/{project}/executors/start-workflow-instance"),
        }
    }

    /// The 3.2 endpoint resolving a trigger code to instances (§9.1), also the 3.1/3.2 probe.
    pub(crate) fn trigger_path(project: i64) -> String {
        format!("projects/{project}/process-instances/trigger")
    }

    /// The definition code as a start and schedule parameter, a schedule list filter, and a field
    /// of instance and schedule JSON (§4, §8, §9.1, §10.1).
    pub(crate) fn definition_param(self) -> &'static str {
        match self {
            Family::V3_1 | Family::V3_2 => "processDefinitionCode",
            Family::V3_3 => "workflowDefinitionCode",
        }
    }

    /// The definition filter of the instance list: `processDefineCode` (sic) before 3.3 (§4).
    pub(crate) fn instance_filter_param(self) -> &'static str {
        match self {
            Family::V3_1 | Family::V3_2 => "processDefineCode",
            Family::V3_3 => "workflowDefinitionCode",
        }
    }

    /// The instance priority parameter of start and schedule (§4).
    pub(crate) fn priority_param(self) -> &'static str {
        match self {
            Family::V3_1 | Family::V3_2 => "processInstancePriority",
            Family::V3_3 => "workflowInstancePriority",
        }
    }

    /// The instance id parameter of `executors/execute` (§9.2).
    pub(crate) fn instance_id_param(self) -> &'static str {
        match self {
            Family::V3_1 | Family::V3_2 => "processInstanceId",
            Family::V3_3 => "workflowInstanceId",
        }
    }

    /// The definition object's key in DagData (§4, §7.1).
    pub(crate) fn dag_definition_key(self) -> &'static str {
        match self {
            Family::V3_1 | Family::V3_2 => "processDefinition",
            Family::V3_3 => "workflowDefinition",
        }
    }

    /// Whether the tenant goes with the definition (create/update, required on 3.1) rather than
    /// with each start and schedule (3.2+, PR #13935).
    pub(crate) fn tenant_on_definition(self) -> bool {
        self == Family::V3_1
    }

    /// Whether `query-by-name` misses definitions of a user without a tenant: 3.1.1's mapper
    /// (`queryByDefineName`) joins the creator's tenant, so for the admin as installed it answers
    /// 50003 for a definition that exists. Its miss is confirmed by the definition list.
    pub(crate) fn name_lookup_needs_a_tenant(self) -> bool {
        self == Family::V3_1
    }

    /// Reads the `data` of a start answer (§9.1).
    pub(crate) fn started(self, data: &Value, what: &str) -> Result<Started> {
        match self {
            Family::V3_1 => Ok(Started::Unknown),
            Family::V3_2 => match data {
                Value::Number(n) => n.as_i64().map(Started::Trigger),
                Value::String(s) => s.parse().ok().map(Started::Trigger),
                _ => None,
            }
            .ok_or_else(|| malformed(what, "trigger code")),
            Family::V3_3 => {
                let first = data.as_array().and_then(|ids| ids.first());
                first
                    .and_then(|id| id.as_i64().or_else(|| int(id, "id")))
                    .map(Started::Instance)
                    .ok_or_else(|| malformed(what, "instance id"))
            }
        }
    }

    /// Finds the family with read-only probes in `project` (§4 "Version detection"):
    /// `workflow-definition` exists on 3.3+ only; `process-instances/trigger` answers a list on 3.2
    /// and an error on 3.1, where `trigger` does not parse as an instance id.
    pub(crate) async fn detect(transport: &Transport, project: i64) -> Result<Family> {
        let probe = Call::get(
            format!("projects/{project}/workflow-definition"),
            "list workflow definitions (version probe)",
        )
        .query("pageNo", 1)
        .query("pageSize", 1);
        let family = match transport.exchange(&probe).await?.outcome() {
            Outcome::Data(_) => Family::V3_3,
            // An envelope means the path exists; only refusals that hide the answer are errors.
            Outcome::Refused { code, .. } if !hides_the_answer(code) => Family::V3_3,
            Outcome::Unexpected(404) => {
                let probe = Call::get(Family::trigger_path(project), "look up a trigger (version probe)")
                    .query("triggerCode", 0);
                match transport.exchange(&probe).await?.outcome() {
                    Outcome::Data(_) => Family::V3_2,
                    Outcome::Refused { code, .. } if !hides_the_answer(code) => Family::V3_1,
                    Outcome::Unexpected(404) => Family::V3_1,
                    other => return Err(outcome_error(other, &probe)),
                }
            }
            other => return Err(outcome_error(other, &probe)),
        };
        tracing::info!(family = family.as_str(), "detected the DolphinScheduler version family");
        Ok(family)
    }
}

/// Codes that any family answers before looking at the path (no permission, no such project).
fn hides_the_answer(code: i64) -> bool {
    matches!(code, 30001 | 30002 | 30003 | 10018 | 10190)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names_parse_and_print() {
        for (text, family) in
            [("3.1", Family::V3_1), ("3.2", Family::V3_2), ("3.3", Family::V3_3), ("3.3+", Family::V3_3)]
        {
            assert_eq!(Family::parse(text), Some(family));
        }
        assert_eq!(Family::parse("3.0"), None);
        assert_eq!(Family::V3_3.as_str(), "3.3+");
        assert_eq!(" 3.2 ".parse::<Family>(), Ok(Family::V3_2));
        assert!("4".parse::<Family>().is_err());
        assert_eq!(Family::V3_1.to_string(), "3.1");
    }

    #[test]
    fn paths_and_names_switch_at_3_3() {
        for family in [Family::V3_1, Family::V3_2] {
            assert_eq!(family.definitions(7), "projects/7/process-definition");
            assert_eq!(family.instances(7), "projects/7/process-instances");
            assert_eq!(family.start_path(7), "projects/7/executors/start-process-instance");
            assert_eq!(family.definition_param(), "processDefinitionCode");
            assert_eq!(family.instance_filter_param(), "processDefineCode");
            assert_eq!(family.priority_param(), "processInstancePriority");
            assert_eq!(family.instance_id_param(), "processInstanceId");
            assert_eq!(family.dag_definition_key(), "processDefinition");
        }
        let family = Family::V3_3;
        assert_eq!(family.definitions(7), "projects/7/workflow-definition");
        assert_eq!(family.instances(7), "projects/7/workflow-instances");
        assert_eq!(family.start_path(7), "projects/7/executors/start-workflow-instance");
        assert_eq!(family.definition_param(), "workflowDefinitionCode");
        assert_eq!(family.instance_filter_param(), "workflowDefinitionCode");
        assert_eq!(family.priority_param(), "workflowInstancePriority");
        assert_eq!(family.instance_id_param(), "workflowInstanceId");
        assert_eq!(family.dag_definition_key(), "workflowDefinition");
        assert!(Family::V3_1.tenant_on_definition());
        assert!(!Family::V3_2.tenant_on_definition());
        assert!(!Family::V3_3.tenant_on_definition());
    }

    #[test]
    fn start_answers_differ() {
        assert_eq!(Family::V3_1.started(&Value::Null, "start").ok(), Some(Started::Unknown));
        assert_eq!(
            Family::V3_2.started(&json!(123456789012345_i64), "start").ok(),
            Some(Started::Trigger(123456789012345))
        );
        assert!(Family::V3_2.started(&Value::Null, "start").is_err());
        assert_eq!(Family::V3_3.started(&json!([42]), "start").ok(), Some(Started::Instance(42)));
        assert!(Family::V3_3.started(&json!([]), "start").is_err());
    }
}
