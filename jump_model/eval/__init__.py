"""`jumpdata eval` (docs/reproduce.md): report.py runs it (settings, runs, the choice of metrics, the table);
each metric is a plug-in (metric.py: the interface) in the file of its family, video.py, dice.py,
digit_agreement.py or story.py, registered in registry.py; plots.py draws the pictures.

Importing this package loads nothing; evaluation never imports the trainer, the probe trainer or pybullet.
"""
