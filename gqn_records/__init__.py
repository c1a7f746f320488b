"""DeepMind's GQN datasets (TFRecords of `tf.train.Example`s) read and written without TensorFlow.

Modules, each with one job:

    framing     the TFRecord framing: length, masked CRC32C, data, masked CRC32C (read, index, write)
    example     the few protobuf messages of a `tf.train.Example` (decode and encode, wire format)
    layout      the gqn-datasets folder layout, the table of its datasets, the camera conventions
    scenes      one record <-> one scene (JPEG frames and raw cameras)
    importer    `jumpdata import-gqn`: a gqn-datasets folder -> jumpdata shards (through scene_shards.generation)
    export      `jumpdata export`: jumpdata shards -> GQN TFRecords or gqnlib's `.pt.gz` scene files

Nothing here imports TensorFlow; torch is imported only to write gqnlib's files. See docs/gqn.md.
"""
