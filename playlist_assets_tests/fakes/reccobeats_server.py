"""A fake ReccoBeats: GET /v1/audio-features?ids=<up to 40 Spotify IDs>, answering rows keyed by
its own IDs with the Spotify track URL in `href`, unknown IDs left out, order not kept."""

from __future__ import annotations

import random
import uuid

from playlist_assets_tests.fakes.http_fake import Answer, FakeHttpServer, FaultPlan, Request, error_body

MAX_IDS = 40
# ReccoBeats has no time_signature; the other eleven Spotify features keep their names.
FEATURES = ("acousticness", "danceability", "energy", "instrumentalness", "key", "liveness", "loudness",
            "mode", "speechiness", "tempo", "valence")


class FakeReccoBeats(FakeHttpServer):
    """`features`: Spotify track ID -> a Spotify audio-features object (what ReccoBeats knows)."""

    def __init__(self, features: dict[str, dict], *, faults: FaultPlan | None = None, seed: int = 0) -> None:
        super().__init__(faults)
        self.features = features
        self._shuffle = random.Random(seed)

    @property
    def api_base(self) -> str:
        return self.base_url + "v1/"

    def endpoint(self, request: Request) -> str:
        if request.path == "/v1/audio-features":
            return "GET /v1/audio-features?ids="
        return f"{request.method} {request.path}"

    def answer(self, request: Request) -> Answer:
        if request.method != "GET" or request.path != "/v1/audio-features":
            return Answer(404, error_body(404, "Not found"))
        ids = [i for i in request.query.get("ids", "").split(",") if i]
        if not ids or len(ids) > MAX_IDS:
            return Answer(400, error_body(400, f"ids: between 1 and {MAX_IDS}"))
        rows = [self._row(i) for i in dict.fromkeys(ids) if i in self.features]
        self._shuffle.shuffle(rows)
        return Answer(200, {"content": rows})

    def _row(self, spotify_id: str) -> dict:
        values = self.features[spotify_id]
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, spotify_id)),
            "href": f"https://open.spotify.com/track/{spotify_id}",
            **{name: values.get(name) for name in FEATURES},
        }
