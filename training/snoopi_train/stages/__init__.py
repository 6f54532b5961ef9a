"""The training stages, one module each: autoencoder → teacher (text encoder + UNet) → one-step
students (`student`; the SceneCLIP of the students' CLIP loss trains in `snoopi_train.scene_clip`).

Each stage writes `<work>/<stage>.ckpt` every `checkpoint_every` steps and `<work>/<stage>.pt` when
it is done; a rerun skips finished stages and resumes an interrupted one from its checkpoint.
Import from the defining modules (`snoopi_train.stages.teacher`, …): this package re-exports nothing.
"""
