-- Point lookups of actor labels for a tag list (show address, tags list).
CREATE INDEX tag_actors_by_id ON tag_actors (actor_id);
