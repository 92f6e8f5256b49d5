import dagster as dg

from whisper_pipeline.assets.common import config_from, language_partitions, run_stage
from whisper_pipeline.assets.deduped import deduped
from whisper_pipeline.resources import WorkspaceResource
from whisper_pipeline.stages import settings_from
from whisper_pipeline.stages.normalize import normalize
from whisper_pipeline.text.normalize import NormalizationSettings

NormalizationConfig = config_from("NormalizationConfig", NormalizationSettings)


@dg.asset(partitions_def=language_partitions, group_name="intake", deps=[deduped], kinds={"python"})
def normalized_transcripts(
    context: dg.AssetExecutionContext, config: NormalizationConfig, workspace: WorkspaceResource
) -> dg.MaterializeResult:
    """Training text per utterance (``.norm.txt``): NFC, annotations and speaker labels removed, quotes
    and dashes unified, Serbian Cyrillic → Latin; ``normalization_report.json`` names every failure."""
    return run_stage(
        normalize,
        workspace.get(),
        context.partition_key,
        settings_from(config, NormalizationSettings),
        log=context.log,
    )
