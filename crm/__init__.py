"""Real CRMs at both ends of Rapport, and files from any other CRM.

This package owns the ways CRM data reaches the contract tables
(docs/crm-contract.md) from outside the embedded store: `rapport crm import`
loads a documented JSON file or CSV bundle (users, accounts, contacts, leads,
opportunities, stakeholders, activities and their parties), validated row by
row; connectors to real CRMs (Dataverse first) pull into the same tables and
push health out. It may import `storage` and `consent`, nothing else of ours.
"""
