CREATE FUNCTION note_ddl() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE EVENT TRIGGER nelo_case_tags ON sql_drop EXECUTE FUNCTION note_ddl();
