"""The editable workbook: layout, writer, CSV files and reader."""
