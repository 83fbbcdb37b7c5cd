CREATE DOMAIN d AS text;
COMMENT ON DOMAIN d IS 'why it exists';
