//! The three version families and everything that differs between them (contract §4), in one place:
//! path segments, parameter names, JSON keys and the behavioural switches.

/// A DolphinScheduler version family: 3.1.x, 3.2.x, or the 3.3+ line with the `workflow-*` naming.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V3_1,
    V3_2,
    V3_3,
}

/// Names that change with the process -> workflow rename of 3.3 (§4).
pub(crate) struct Names {
    /// Word used in messages ("process definition 12 does not exist").
    pub word: &'static str,
    pub definition_base: &'static str,
    pub instance_base: &'static str,
    pub start_path: &'static str,
    /// Definition code parameter of start, schedule create and schedule list; also the JSON key.
    pub definition_code: &'static str,
    pub definition_name: &'static str,
    pub definition_version: &'static str,
    /// Instance id parameter of `executors/execute`; also the key in task-instance JSON.
    pub instance_id: &'static str,
    pub instance_name: &'static str,
    /// Filter of the instance list (3.x spells it `processDefineCode`).
    pub instance_filter: &'static str,
    pub priority: &'static str,
    pub dag_definition: &'static str,
    pub dag_relations: &'static str,
    pub instance_state: &'static str,
    pub is_sub: &'static str,
}

const PROCESS: Names = Names {
    word: "process",
    definition_base: "process-definition",
    instance_base: "process-instances",
    start_path: "start-process-instance",
    definition_code: "processDefinitionCode",
    definition_name: "processDefinitionName",
    definition_version: "processDefinitionVersion",
    instance_id: "processInstanceId",
    instance_name: "processInstanceName",
    instance_filter: "processDefineCode",
    priority: "processInstancePriority",
    dag_definition: "processDefinition",
    dag_relations: "processTaskRelationList",
    instance_state: "processInstanceState",
    is_sub: "isSubProcess",
};

const WORKFLOW: Names = Names {
    word: "workflow",
    definition_base: "workflow-definition",
    instance_base: "workflow-instances",
    start_path: "start-workflow-instance",
    definition_code: "workflowDefinitionCode",
    definition_name: "workflowDefinitionName",
    definition_version: "workflowDefinitionVersion",
    instance_id: "workflowInstanceId",
    instance_name: "workflowInstanceName",
    instance_filter: "workflowDefinitionCode",
    priority: "workflowInstancePriority",
    dag_definition: "workflowDefinition",
    dag_relations: "workflowTaskRelationList",
    instance_state: "workflowInstanceState",
    is_sub: "isSubWorkflow",
};

impl Family {
    pub(crate) fn names(self) -> &'static Names {
        match self {
            Family::V3_1 | Family::V3_2 => &PROCESS,
            Family::V3_3 => &WORKFLOW,
        }
    }

    /// 3.1 keeps the tenant on the definition (`tenantCode` required on create/update); 3.2 moved it to
    /// start and schedule create (PR #13935, §4).
    pub(crate) fn tenant_on_definition(self) -> bool {
        self == Family::V3_1
    }

    /// 3.2+ allow one schedule per definition (10204, §8).
    pub(crate) fn one_schedule_per_definition(self) -> bool {
        self != Family::V3_1
    }

    /// 3.1/3.2 only insert a command; the master creates the instance later (§9.1). 3.3+ creates it
    /// synchronously over RPC.
    pub(crate) fn instance_created_later(self) -> bool {
        self != Family::V3_3
    }

    /// 3.1 refuses to release a definition without relations (50035); 3.2.1+ releases are idempotent.
    pub(crate) fn release_needs_relations(self) -> bool {
        self == Family::V3_1
    }

    /// 3.1 answers 10126 when a schedule already has the requested release state; the 3.2+
    /// online/offline implementations return early instead.
    pub(crate) fn schedule_release_strict(self) -> bool {
        self == Family::V3_1
    }

    /// 3.2 added `projectCode` and `testFlag` to instance JSON (§4, §10).
    pub(crate) fn instance_has_project_code(self) -> bool {
        self != Family::V3_1
    }

    /// The start `timeout` parameter exists in 3.1/3.2 only (§9.1).
    pub(crate) fn start_has_timeout(self) -> bool {
        self != Family::V3_3
    }

    /// The sub-workflow task type is `SUB_PROCESS` in 3.x and `SUB_WORKFLOW` in 3.3+ (§7.3).
    pub(crate) fn sub_workflow_task_type(self) -> &'static str {
        match self {
            Family::V3_1 | Family::V3_2 => "SUB_PROCESS",
            Family::V3_3 => "SUB_WORKFLOW",
        }
    }
}
