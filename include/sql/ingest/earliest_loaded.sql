-- The earliest loaded_at of any source row in a window: where a catch-up of a long history starts its first
-- step (lifecycle.ingest.ingest_history). One MIN per table, each read from its loaded_at index on PostgreSQL
-- (migration shop/0002) and from the column's zone maps on DuckDB.
-- Inputs: every shop table the ingest reads. Output: earliest (NULL when the window holds no row).
-- Parameters: :window_start, :window_end.
SELECT MIN(t.earliest) AS earliest
FROM (
    SELECT MIN(loaded_at) AS earliest FROM shop.categories
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.products
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.product_accessories
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.customers
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.push_tokens
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.price_changes
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.stock_changes
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.content_mailings
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.content_mailing_recipients
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.orders
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.order_items
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
    UNION ALL
    SELECT MIN(loaded_at) AS earliest FROM shop.events
    WHERE loaded_at >= :window_start AND loaded_at < :window_end
) AS t
