"""Ground-truth probes (docs/probes.md): nets.py the networks, their folder and reading frames (all that
evaluation needs); training.py `jumpdata probe train`; story_checks.py reading a video against its story.
Importing this package loads nothing."""
