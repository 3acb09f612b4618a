"""Every change the staff workspace makes, one module per area; each function is one
transaction. Import from the modules themselves (staff.services.cases, ...)."""
