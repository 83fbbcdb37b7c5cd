CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER nelo_case_tags ON ddl_command_end WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION note_ddl();
