"""``production_model``: the registry's production run, promoted only when its evaluation passes the gates
(``stages/promote.py``)."""

import dagster as dg

from whisper_pipeline.assets.common import config_from, run_stage
from whisper_pipeline.assets.eval_report import eval_report
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.promote import PromoteSettings, promote_stage

PromoteConfig = config_from("PromoteConfig", PromoteSettings)


@dg.asset(group_name="evaluation", deps=[eval_report], kinds={"python"})
def production_model(
    context: dg.AssetExecutionContext, config: PromoteConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Marks a run as the production model in ``models/registry.json``, only if its evaluation passes the
    gates (WER ceiling per language, no regression against the current production model)."""
    return run_stage(promote_stage, workspace.get(), settings_from(config, PromoteSettings), log=context.log)
