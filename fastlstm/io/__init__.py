"""Input and output at the edges: data readers and run folders."""
