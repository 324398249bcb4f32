"""The vocabulary of the demo library: genres, their sound, names, labels and the awkward cases.

Everything here is invented (two classical Chinese poem titles aside). The audio-feature
profiles are chosen so genres sit apart in feature space (classical acoustic and quiet, metal
loud and energetic, hip-hop wordy...), which is what makes the clusters of a demo report mean
something.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Spread:
    """A feature drawn from a normal distribution, clipped to [low, high]."""

    mean: float
    sd: float
    low: float = 0.0
    high: float = 1.0


@dataclass(frozen=True)
class Genre:
    name: str
    artist_genres: tuple[str, ...]          # what GET /artists/{id} lists under "genres"
    labels: tuple[str, ...]
    artist_words: tuple[tuple[str, ...], tuple[str, ...]]
    title_words: tuple[tuple[str, ...], tuple[str, ...]]
    features: dict[str, Spread]
    duration_s: Spread
    explicit_share: float = 0.05
    major_share: float = 0.6
    waltz_share: float = 0.02               # share of tracks in 3/4
    first_year: int = 1972                  # earliest album release


def _sound(dance: float, energy: float, loud: float, speech: float, acoustic: float,
           instrumental: float, live: float, valence: float, tempo: float, tempo_sd: float) -> dict[str, Spread]:
    return {
        "danceability": Spread(dance, 0.08),
        "energy": Spread(energy, 0.08),
        "loudness": Spread(loud, 1.8, -40.0, -1.0),
        "speechiness": Spread(speech, 0.04, 0.02, 0.95),
        "acousticness": Spread(acoustic, 0.08),
        "instrumentalness": Spread(instrumental, 0.08),
        "liveness": Spread(live, 0.06, 0.02, 0.99),
        "valence": Spread(valence, 0.14),
        "tempo": Spread(tempo, tempo_sd, 50.0, 210.0),
    }


GENRES: tuple[Genre, ...] = (
    Genre(
        "k-pop", ("k-pop", "k-pop girl group"),
        labels=("Starlight Entertainment", "Hanbit Music", "Blue Orbit Ent."),
        artist_words=(("Neon", "Crystal", "Star", "Velvet", "Sugar", "Aurora", "Prism"),
                      ("Girls", "Boys", "Wave", "Nine", "Bloom", "Heart")),
        title_words=(("Candy", "Shine", "Electric", "Pink", "Dream", "Midnight", "Butterfly"),
                     ("Love", "Rush", "Signal", "Crush", "Summer", "Step")),
        features=_sound(0.72, 0.82, -4.0, 0.08, 0.10, 0.02, 0.14, 0.68, 122, 14),
        duration_s=Spread(205, 20, 150, 260), explicit_share=0.03, major_share=0.65, first_year=2010,
    ),
    Genre(
        "classical", ("classical", "early romantic era"),
        labels=("Aurelian Classics", "Deutsche Klangwerk", "Harmonia Nova"),
        artist_words=(("Wiener", "Nordic", "Royal", "Baltic", "Aurelian", "Silesian"),
                      ("Philharmonic", "String Quartet", "Chamber Orchestra", "Ensemble", "Consort")),
        title_words=(("Sonata", "Nocturne", "Prelude", "Étude", "Fugue", "Serenade", "Adagio"),
                     ("in D minor", "in E-flat", "No. 2", "for Strings", "in A major", "Op. 9")),
        features=_sound(0.25, 0.12, -22.0, 0.04, 0.95, 0.88, 0.10, 0.20, 92, 22),
        duration_s=Spread(330, 110, 120, 900), explicit_share=0.0, major_share=0.55, waltz_share=0.25,
    ),
    Genre(
        "metal", ("metal", "thrash metal"),
        labels=("Iron Crypt Records", "Black Anvil", "Kernel | Panic Records"),
        artist_words=(("Iron", "Grave", "Black", "Storm", "Ash", "Frost", "Venom"),
                      ("Throne", "Serpent", "Legion", "Hammer", "Pyre", "Wolves")),
        title_words=(("Blood", "Burning", "Eternal", "Shattered", "Dark", "Frozen", "Steel"),
                     ("Oath", "Sky", "Fury", "Crown", "Abyss", "Storm")),
        features=_sound(0.35, 0.95, -3.5, 0.09, 0.02, 0.20, 0.20, 0.28, 140, 22),
        duration_s=Spread(290, 45, 180, 480), explicit_share=0.25, major_share=0.35,
    ),
    Genre(
        "lo-fi", ("lo-fi beats", "chillhop"),
        labels=("Rainy Window Tapes", "Slow Lamp Records"),
        artist_words=(("sleepy", "mellow", "cozy", "dusty", "quiet", "soft"),
                      ("fox", "cat", "tape", "lamp", "cloud", "kettle")),
        title_words=(("rainy", "late", "warm", "lazy", "paper", "blue"),
                     ("afternoon", "window", "coffee", "notes", "sunday", "streets")),
        features=_sound(0.66, 0.30, -12.0, 0.07, 0.62, 0.85, 0.10, 0.45, 82, 8),
        duration_s=Spread(150, 25, 90, 220), explicit_share=0.0, major_share=0.5, first_year=2015,
    ),
    Genre(
        "hip-hop", ("hip hop", "rap"),
        labels=("Concrete Crown", "Block Theory Music"),
        artist_words=(("Lil", "Young", "MC", "Big", "King", "DJ"),
                      ("Verse", "Cipher", "Nova", "Stacks", "Drip", "Kilo")),
        title_words=(("Real", "Night", "Paper", "Gold", "Hustle", "Cold"),
                     ("Talk", "Chains", "Moves", "Block", "Dreams", "Money")),
        features=_sound(0.80, 0.65, -6.0, 0.32, 0.12, 0.02, 0.16, 0.50, 95, 14),
        duration_s=Spread(200, 30, 120, 300), explicit_share=0.6, major_share=0.45,
    ),
    Genre(
        "country", ("country", "contemporary country"),
        labels=("Dusty Road Records", "Silver Spur Music"),
        artist_words=(("Hank", "Dolly", "Wade", "Loretta", "Cody", "June"),
                      ("Hollis", "Parker", "McCrae", "Boone", "Tate", "Walker")),
        title_words=(("Dirt", "Whiskey", "Back", "Small", "Tailgate", "Prairie"),
                     ("Road", "River", "Porch", "Town", "Heart", "Sunset")),
        features=_sound(0.58, 0.60, -6.5, 0.04, 0.38, 0.02, 0.18, 0.62, 118, 18),
        duration_s=Spread(200, 25, 140, 280), explicit_share=0.02, major_share=0.8,
    ),
    Genre(
        "edm", ("edm", "progressive house"),
        labels=("Kinetic Drop", "Neon | Pulse Records"),
        artist_words=(("Kestrel", "Volt", "Hyper", "Lumen", "Axon", "Solar"),
                      ("Theory", "Circuit", "Drive", "Flux", "Drop", "State")),
        title_words=(("Higher", "Strobe", "Infinite", "Laser", "Pulse", "Afterglow"),
                     ("Ground", "Lights", "Motion", "Rave", "Code", "Rise")),
        features=_sound(0.70, 0.88, -4.5, 0.06, 0.03, 0.62, 0.22, 0.45, 126, 4),
        duration_s=Spread(240, 50, 150, 420), explicit_share=0.03, major_share=0.5, first_year=2005,
    ),
    Genre(
        "jazz", ("jazz", "cool jazz"),
        labels=("Blue Smoke Records", "Late Set Music"),
        artist_words=(("Miles", "Ella", "Cole", "Billie", "Chet", "Nina"),
                      ("Trio", "Quartet", "Quintet", "& The Night Owls", "Ensemble")),
        title_words=(("Autumn", "Smoky", "Round", "Blue", "Velvet", "So"),
                     ("Leaves", "Midnight", "Bossa", "in Green", "Standard", "Swing")),
        features=_sound(0.55, 0.35, -12.0, 0.05, 0.80, 0.60, 0.25, 0.50, 110, 28),
        duration_s=Spread(300, 80, 150, 600), explicit_share=0.0, major_share=0.5, waltz_share=0.1,
    ),
)


@dataclass(frozen=True)
class AwkwardArtist:
    """An artist whose names stress every renderer: scripts, emoji, markup and separators."""

    genre: str
    name: str
    album: str
    tracks: tuple[str, ...]
    label: str | None                       # None: the album has no label
    has_genres: bool = True
    featureless_track: int | None = None    # index into `tracks` of one without audio features


AWKWARD_ARTISTS: tuple[AwkwardArtist, ...] = (
    AwkwardArtist("country", "נועה והגלים 🌊", "ים של אור | Live", ("שיר לילה", "בוקר טוב 🌅"),
                  "Galim Music"),
    AwkwardArtist("lo-fi", "夜光虫 [やこうちゅう]", "雨の日 <b>Deluxe</b>", ("東京 | トーキョー", "雨音"),
                  "Rainy Window Tapes", has_genres=False),
    AwkwardArtist("classical", "林静怡 | Lin Jingyi", "月光 [Remastered]", ("静夜思 🌙", "春江花月夜"), None,
                  featureless_track=1),
    AwkwardArtist("k-pop", "별빛소녀 <b>", "첫 번째 빛 🌟", ("너의 하늘 [Korean Ver.]", "<b>Bold</b> 사랑"),
                  "Starlight | Hanbit Entertainment"),
    AwkwardArtist("metal", "`null` pointer\nexception", "Segfault\n(core dumped) `sh`",
                  ("`sudo` make me a sandwich\n(extended)", "Stack | Overflow"), "Kernel | Panic Records"),
)


@dataclass(frozen=True)
class PlaylistRole:
    """A hand-written playlist of the default library and the oddities it carries."""

    name: str
    genres: tuple[str, ...]
    description: str = ""
    size: int | None = None                 # None: tracks_per_playlist entries
    awkward_artists: tuple[int, ...] = ()   # indexes into AWKWARD_ARTISTS whose tracks it includes
    oddities: frozenset[str] = field(default_factory=frozenset)  # duplicate, local, episode, removed
    collaborative: bool = False
    owned_by_friend: bool = False


PLAYLIST_ROLES: tuple[PlaylistRole, ...] = (
    PlaylistRole("Morning Run", ("edm", "k-pop", "hip-hop"), "Fast stuff to get out of the door.",
                 oddities=frozenset({"duplicate", "local"})),
    PlaylistRole("שירים לנסיעה 🚗", ("country", "hip-hop"), "Songs for the drive", awkward_artists=(0,),
                 oddities=frozenset({"episode"})),
    PlaylistRole("夜のドライブ | night drive", ("lo-fi", "edm", "jazz"), awkward_artists=(1,),
                 oddities=frozenset({"removed"})),
    PlaylistRole("学习音乐 [focus]", ("classical", "lo-fi"), "No words, just work.", awkward_artists=(2,)),
    PlaylistRole("케이팝 <b>최고</b>", ("k-pop", "edm"), "&lt;3 K-pop", awkward_artists=(3,)),
    PlaylistRole("`git push` beats\nvol. 2", ("metal", "edm", "hip-hop"), awkward_artists=(4,)),
    PlaylistRole("Chill", ("lo-fi", "jazz", "classical"), "Mine."),
    PlaylistRole("Chill", ("lo-fi", "country"), "Ours: add what you like.", collaborative=True),
    PlaylistRole("Empty for now", (), "Will fill it one day.", size=0),
    PlaylistRole("Two songs", ("jazz", "classical"), size=2),
    PlaylistRole("Heavy Rotation", ("metal", "hip-hop", "k-pop", "edm")),
    PlaylistRole("Road Trip", ("country", "metal"), "Alex's road trip mix.", owned_by_friend=True),
)

PLAYLIST_ADJECTIVES = ("Sunday", "Late Night", "Rainy", "Summer", "Deep", "Golden", "Lazy", "Electric",
                       "Winter", "Quiet", "Weekend", "Midnight", "Sunny", "Retro", "Lost")
PLAYLIST_NOUNS = ("Mix", "Vibes", "Focus", "Workout", "Drive", "Party", "Favourites", "Mood", "Jams",
                  "Classics", "Session", "Discoveries", "Essentials", "Radio", "Daydreams")

LOCAL_FILE = {"artist": "My Garage Band", "album": "Basement Tapes", "title": "Demo Take 3", "duration_s": 180}
PODCAST = {"show": "The Data Hour", "publisher": "Indie Pod Network", "episode": "Ep. 42: Clustering your music"}
