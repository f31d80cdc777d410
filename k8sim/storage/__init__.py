"""Storage: claims, volumes, classes, binding and attachment (see ``docs/storage.md``)."""
