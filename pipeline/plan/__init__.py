"""Plan: the minimal ordered operations that take the store to what the edited workbook says."""
