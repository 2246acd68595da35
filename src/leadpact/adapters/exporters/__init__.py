"""Exports of leads in the import layouts of other tools (HubSpot, Salesforce) and leadpact's own.

`record` holds what an export knows of a lead and how a layout is described; `hubspot`,
`salesforce` and `native` are the layouts, pure mappings from a lead to cells; `writer`
streams them as CSV, with every cell neutralised against formula injection.
"""
