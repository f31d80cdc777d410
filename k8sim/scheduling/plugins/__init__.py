"""Filter and score plugins, one module each, upstream names where semantics match."""
