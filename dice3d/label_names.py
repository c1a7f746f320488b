"""The names of the dice labels that evaluation reads (standard library only, so jump_model's names can import
them without numpy or pybullet). spec.labels declares each one's dtype and shape."""

VISIBLE_FACES, DIGIT_CLASSES, CUBE_ORIENTATION = "visible_faces", "digit_classes", "cube_orientation"
