"""Importing applications from another form tool's export or a spreadsheet (CSV, XLSX).

    parse.py      the uploaded file -> header and numbered rows of text
    fields.py     the fields a row fills; guessing columns from their headers (fi/en/sv)
    normalise.py  cell text -> codes: yes/no, CEFR levels, regions, occupations, ISCED, ...
    rows.py       a row -> `ApplicationCreate` or the reasons it cannot be one
    store.py      `intake.import_batches`: the upload kept (rows encrypted) between steps
    routes.py     the coordinator's pages: upload, map columns, dry run, import

Every row goes through the same `ApplicationCreate` model and `service.submit_application`
as the public form and the JSON API. See docs/import.md.
"""

from services.intake.imports.routes import router

__all__ = ["router"]
