"""How many checkpoints the disk check counts: the trainer's rotation, its "no limit", a short run's few saves."""

from whisper_pipeline.training.disk import checkpoint_bytes, checkpoints_held, run_bytes


def test_checkpoints_held_follow_the_trainers_rotation():
    assert checkpoints_held(2, 10) == 3, "the limit, plus the one written before the oldest is deleted"
    assert checkpoints_held(2, 2) == 2, "never more than the run saves"
    assert checkpoints_held(0, 7) == 7 and checkpoints_held(-1, 7) == 7, "0 or less: no limit, every save stays"


def test_run_bytes_add_up_checkpoints_and_the_final_model():
    params, trainable = 1000, 400
    one = checkpoint_bytes(params, trainable)
    assert one == params * 4 + trainable * 8
    assert run_bytes(params, 3, trainable=trainable, ct2_export=True) - run_bytes(params, 2, trainable=trainable) == (
        one + params * 1
    )
