import dagster as dg

from whisper_pipeline.assets.common import run_stage
from whisper_pipeline.assets.raw_audio import raw_audio
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages.governance import data_licenses_stage


@dg.asset(
    group_name="intake",
    deps=[raw_audio],
    kinds={"python"},
    automation_condition=dg.AutomationCondition.eager(),
)
def data_licenses(workspace: WorkspaceResource) -> dg.MaterializeResult:
    """``DATA_LICENSES.md`` in the workspace: per source its URL, channel, licence, language, files, hours,
    first and last download, and the runs trained on it; local uploads without provenance as "licence
    unknown". Refreshed whenever a language's intake ran (eager automation)."""
    return run_stage(data_licenses_stage, workspace.get())
