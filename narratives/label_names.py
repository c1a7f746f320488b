"""The names of the narrative labels (standard library only, so jump_model's names can import them without numpy).
stories.label_spec declares each one's dtype and shape."""

KINDS, SIZES, POSITIONS, COLORS, ORDER = "kinds", "sizes", "positions", "colors", "order"
