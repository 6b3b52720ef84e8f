-- Accessories of every product, read once per dispatch run.
-- inputs: crm.product_accessories; outputs: product_id, accessory_id
-- params: none
SELECT
    a.product_id,
    a.accessory_id
FROM crm.product_accessories AS a;
