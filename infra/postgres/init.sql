-- The services create their own schemas through migrations; this only makes sure the
-- database exists when Postgres starts for the first time under docker compose.
SELECT 'CREATE DATABASE keyplane'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'keyplane')\gexec
