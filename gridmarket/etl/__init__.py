"""Getting data in and out: readers, validation, the demo city, exporters."""
