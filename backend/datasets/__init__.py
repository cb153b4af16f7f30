"""Real meshes for training and evaluating the shape models: format readers, discovery in installed
packages (with the held-out rule), and conversion to the procedural dataset's shard format."""
