-- Every due row not held, of one class's table. {table}, {id_column} and
-- {due_column} ('id' for numeric ids, 'key' for text ones) are constants of
-- crm_hygiene.retention.classes, never input.
DELETE FROM {table}
WHERE {id_column} IN (SELECT {due_column} FROM ret_due WHERE held = 0)
