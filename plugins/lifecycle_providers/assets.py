"""The Assets that chain the project's DAGs: a producer declares it as an outlet, consumers schedule on it.

Every URI follows ``lifecycle://warehouse/<schema>/<table>`` for the table whose refresh the event announces.
"""

from airflow.sdk import Asset

CUSTOMER_STATE = Asset("lifecycle://warehouse/crm/customer_state", extra={"owner": "data-engineering"})
CUSTOMER_SCORES = Asset("lifecycle://warehouse/crm/customer_scores", extra={"owner": "analytics"})
