"""Running real engines: local processes from Maven Central, or testcontainers."""
