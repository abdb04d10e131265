"""Small text utilities shared by the local models: tokens, stop words, code blocks, language cues."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

CODE_FENCE = re.compile(r"```([\w+#.-]*)[^\n]*\n(.*?)(```|$)", re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]{1,200}`")
WORD = re.compile(r"[^\W\d_][\w'+#.-]*[\w+#]|[^\W\d_]", re.UNICODE)
SENTENCE_END = re.compile(r"(?<=[.!?¿¡])\s+")
WHITESPACE = re.compile(r"\s+")

# English plus the most frequent function words of the other languages the detector knows, so that
# keywords are content words whatever the language of the conversation.
STOP_WORDS = frozenset(
    """a about above after again against all also am an and any are aren't as at be because been before
    being below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    down during each few for from further get gets getting got had hadn't has hasn't have haven't having he
    her here hers herself him himself his how i i'd i'll i'm i've if in into is isn't it it's its itself
    just let let's like me more most much my myself need no nor not now of off on once only or other ought
    our ours ourselves out over own please same shall she should shouldn't so some still such than thank
    thanks that that's the their theirs them themselves then there there's these they they're this those
    through to too try trying under until up us use using very want was wasn't way we we're were weren't
    what what's when where which while who whom why will with won't would wouldn't yes yet you you're
    your yours yourself hi hello hey ok okay sure also really one two get make know help thing something
    anything everything work works working tried still again back new way going
    always never ever best better good great bad first last next many every another other else around
    already since ago today yesterday tomorrow week weeks day days time times minute minutes hour hours
    right left wrong fine sure quick quickly simple simply easy easiest clean cleanest cleaner proper properly
    possible able thing things stuff kind sort lot lots bit little big small whole keep keeps kept give gives
    look looks looked see seen seems seem said says say tell told ask asked asking call called calling
    find found show shows shown go goes went come comes came take takes took put puts set sets able
    maybe actually basically literally probably exactly anyway though although even instead rather quite
    just also well much more most less least enough far near here there everywhere somewhere anymore
    hi hey hello thanks thank please sorry ok okay yes yeah nope hmm
    era esta este esto eso pero muy hay ser fue son están tiene hace
    cette sont mais très aussi avoir fait être
    aber auch noch schon sehr wurde wird sind hat
    el la los las de del que y en un una es por con para no se su al lo como más pero sus le ya o este
    mi me hola gracias quiero puedo tengo está estoy
    le la les des du de et est un une pour pas que qui dans ce il je ne sur au avec mon ma mes vous bonjour
    merci suis j'ai
    der die das und ist nicht ein eine ich zu den mit von es sie auf für dem wie mein meine hallo danke
    habe kann bitte bei mir mich dir dich uns noch nur schon oder wenn weil dass seit nach zum zur vom beim
    aus über unter ihr ihre ihren einen einem einer keine kein bekomme bekommen gibt geht mache machen kommt
    sollte soll muss kann könnte
    o a os as de do da e é um uma não para com em que meu minha olá obrigado tenho
    na no nos nas ao aos pelo pela mas já ainda foi isso esse essa você
    mon ma mes ton ta tes son sa ses nous leur leurs mais ou donc car depuis encore toujours
    hace todavía desde ni muy mis tu tus nos les ese esa eso tiene hago hacer puedo
    fais obtiens comprends peux veux dois
    estou faço dá recebo posso quero
    """.split()
)

PROGRAMMING_LANGUAGES: dict[str, tuple[str, ...]] = {
    # Each language is recognised by a fence tag or by cues that rarely occur in prose.
    "python": (
        "python",
        "py",
        "import pandas",
        "def ",
        "pip install",
        "traceback",
        ".py",
        "numpy",
        "pandas",
        "django",
        "flask",
        "pytest",
        "sklearn",
        "scikit-learn",
    ),
    "javascript": (
        "javascript",
        "js",
        "const ",
        "=> {",
        "npm ",
        "node.js",
        "nodejs",
        "react",
        "usestate",
        "console.log",
        "async function",
        "typescript",
        "ts",
        ".tsx",
        ".jsx",
    ),
    "sql": ("sql", "select ", " from ", "join ", "where ", "postgres", "mysql", "sqlite", "index on"),
    "rust": ("rust", "rs", "cargo", "fn main", "let mut", "borrow checker", "&mut", "impl "),
    "bash": ("bash", "sh", "shell", "#!/bin/bash", "grep ", "sed ", "awk ", "chmod"),
    "go": ("golang", "go func", "func main", "goroutine", ":= "),
    "java": ("java", "public static void", "spring boot", "maven"),
    "css": ("css", "flexbox", "grid-template", "margin:", "display: flex"),
    "html": ("html", "<div", "<html"),
    "yaml": ("yaml", "yml", "apiversion:", "kind: deployment"),
    "dockerfile": ("dockerfile", "docker", "from python:", "run apt-get"),
}

NATURAL_LANGUAGE_MARKERS: dict[str, frozenset[str]] = {
    "english": frozenset("the and is are you my i to it of for with how what this that not can".split()),
    "spanish": frozenset(
        "el la los las que y es por con para mi una pero cómo qué está tengo hola gracias".split()
    ),
    "french": frozenset(
        "le la les des et est pour pas que qui dans je mon ma vous bonjour merci avec".split()
    ),
    "german": frozenset(
        "der die das und ist nicht ich zu mit von sie auf für mein meine hallo danke wie".split()
    ),
    "portuguese": frozenset("o os as do da não para com em meu minha olá obrigado tenho você está".split()),
}


def normalise_space(text: str) -> str:
    return WHITESPACE.sub(" ", text).strip()


# What a terminal would act on instead of printing: escape sequences (CSI `ESC [ ... final`, OSC/DCS/APC/PM
# strings up to BEL or `ESC \`, two-character `ESC X`), their 8-bit forms (U+009B CSI, U+009D OSC, ...), the
# other C0/C1 controls and DEL, and the bidirectional overrides that reorder what is shown.
_TERMINAL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"  # CSI, 7- and 8-bit
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC
    r"|\x1b[ -/]*[0-~]?"  # other escapes (charset, keypad, reset)
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str, *, keep_newlines: bool = False) -> str:
    """`text` as a terminal may print it: escape sequences and control characters removed, tabs and (unless
    `keep_newlines`) line breaks turned into spaces. Names and summaries are user text: printed raw,
    "\\x1b[2J\\x1b]0;pwned\\x07" would clear the screen and retitle the window."""
    if not text:
        return text
    text = _TERMINAL_SEQUENCE.sub("", text)
    text = text.replace("\t", " ").replace("\r\n", "\n")
    if not keep_newlines:
        text = text.replace("\n", " ")
    return _CONTROL.sub("", text)


def strip_code(text: str, placeholder: str = "") -> str:
    """Remove fenced and inline code: summaries and keywords should describe, not reproduce, code."""
    text = CODE_FENCE.sub(placeholder, text)
    return INLINE_CODE.sub(placeholder, text)


def code_fence_tags(text: str) -> list[str]:
    return [match.group(1).lower() for match in CODE_FENCE.finditer(text) if match.group(1)]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(normalise_space(text)) if s.strip()]


def tokens(text: str) -> list[str]:
    return [word.lower() for word in WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Lower-cased tokens without stop words or very short tokens."""
    return content_tokens(tokens(text))


def content_tokens(words: Iterable[str]) -> list[str]:
    """`content_words` of text already split by `tokens`."""
    return [t for t in words if t not in STOP_WORDS and len(t) > 2]


def truncate(text: str, limit: int) -> str:
    """Cut at a word boundary and mark the cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:-") + "…"


# Lookup tables built once: which languages a function word marks, and each programming language's cues
# split into fence tags and the longer cues searched in the text (the detectors run on every turn).
_LANGUAGES_OF_MARKER: dict[str, tuple[str, ...]] = {}
for _language, _markers in NATURAL_LANGUAGE_MARKERS.items():
    for _marker in _markers:
        _LANGUAGES_OF_MARKER[_marker] = _LANGUAGES_OF_MARKER.get(_marker, ()) + (_language,)
_TAG_CUES = {language: frozenset(cues) for language, cues in PROGRAMMING_LANGUAGES.items()}
_TEXT_CUES = tuple(
    (cue, language) for language, cues in PROGRAMMING_LANGUAGES.items() for cue in cues if len(cue) > 3
)


def detect_natural_languages(texts: Iterable[str]) -> list[str]:
    """Languages whose function words make up a clear share of the words, most frequent first."""
    return natural_languages_of_tokens(tokens(strip_code(text)) for text in texts)


def natural_languages_of_tokens(token_lists: Iterable[list[str]]) -> list[str]:
    """`detect_natural_languages` of texts already split by `tokens` (code removed)."""
    counts = {language: 0 for language in NATURAL_LANGUAGE_MARKERS}
    total = 0
    languages_of = _LANGUAGES_OF_MARKER
    for words in token_lists:
        for token in words:
            total += 1
            for language in languages_of.get(token, ()):
                counts[language] += 1
    if total == 0:
        return []
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    best = ranked[0][1]
    if best == 0:
        return ["english"]
    # A second language is reported only when it is close to the first (mixed-language chats).
    return [language for language, count in ranked if count > 0 and count >= 0.6 * best][:2]


def detect_programming_languages(texts: Iterable[str]) -> list[str]:
    found: dict[str, int] = {}
    for text in texts:
        tags = set(code_fence_tags(text)) if "```" in text else None
        # A fence tag counts 3 for its language, and then that language's cues in the text do not count.
        tagged = (
            {language for language, cues in _TAG_CUES.items() if not tags.isdisjoint(cues)} if tags else ()
        )
        for language in tagged:
            found[language] = found.get(language, 0) + 3
        lowered = f" {text.lower()} "
        for language in [language for cue, language in _TEXT_CUES if cue in lowered]:
            if language not in tagged:
                found[language] = found.get(language, 0) + 1
    # One weak cue ("select ", " from ") is not enough outside a code fence.
    return [
        language
        for language, score in sorted(found.items(), key=lambda item: (-item[1], item[0]))
        if score >= 2
    ][:3]


# Light suffix stripping, enough to match "charged"/"charge", "arrival"/"arrive", "payments"/"payment":
# names and labels are compared, and phrases are counted, by these stems. Longest suffix first.
_SUFFIXES = (
    ("ational", "ate"),
    ("isation", "ise"),
    ("ization", "ise"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("ments", ""),
    ("ment", ""),
    ("ings", ""),
    ("ing", ""),
    ("ies", "i"),
    ("ied", "i"),
    ("ed", ""),
    ("es", ""),
    ("als", ""),
    ("al", ""),
    ("ly", ""),
    ("s", ""),
)


@lru_cache(maxsize=200_000)  # names stem the same few thousand words hundreds of thousands of times
def stem(word: str) -> str:
    """A crude stem of a lower-case word: a shared stem means the same word in another inflection."""
    word = word.lower().replace("iz", "is")
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith(("ss", "ply")):
            word = word[: len(word) - len(suffix)] + replacement
            break
    if (
        len(word) > 3 and word[-1] in "ey"
    ):  # "charge"/"charg(ed)", "policy"/"polici(es)", "calorie"/"calori(es)"
        return word[:-1] + ("i" if word[-1] == "y" else "")
    return word


# Cross-lingual term map: the English word for frequent support and programming words of the other
# languages the detector knows, added to what is embedded (`core.stages.embeddings.embedding_text`) so that "¿Dónde está
# mi pedido?" lands near "Where is my order?" rather than near other Spanish chats. Static word embeddings
# (WordLlama) and the lexical views are monolingual: without it, a non-English conversation clusters by its
# language (bench/naming.py: on the sample's support_bot, 41% of non-English conversations shared a leaf with
# their theme).
_GLOSSARY = """
es: pedido=order pedidos=orders compra=purchase reembolso=refund devolver=return devolví=return devuelto=returned
devolución=return dinero=money contraseña=password correo=email restablecer=reset olvidé=forgot enlace=link
caducado=expired tarjeta=card pago=payment pagar=pay rechazada=declined rechazado=declined cobrado=charged
cobraron=charged cobro=charge factura=invoice envío=shipping entrega=delivery entregado=delivered llegar=arrive
llega=arrives llegó=arrived seguimiento=tracking paquete=parcel dirección=address cuenta=account
suscripción=subscription cancelar=cancel código=code descuento=discount dañado=damaged roto=broken
garantía=warranty puntos=points falla=fails falló=failed columna=column archivo=file conflicto=conflict
imagen=image versión=version consulta=query lenta=slow prueba=test pruebas=tests contenedor=container banco=bank
fr: commande=order remboursement=refund remboursé=refunded rembourser=refund retour=return renvoyé=returned
argent=money passe=password courriel=email réinitialiser=reset oublié=forgot lien=link expiré=expired carte=card
paiement=payment payer=pay refusée=declined refusé=declined débité=charged facturé=charged facture=invoice
livraison=delivery livré=delivered colis=parcel suivi=tracking adresse=address compte=account
abonnement=subscription annuler=cancel réduction=discount endommagé=damaged cassé=broken garantie=warranty
erreur=error échoue=fails colonne=column fichier=file conflit=conflict requête=query lente=slow banque=bank
de: bestellung=order rückerstattung=refund erstattung=refund zurückgeschickt=returned rücksendung=return geld=money
passwort=password kennwort=password zurücksetzen=reset vergessen=forgot abgelaufen=expired karte=card
kreditkarte=card zahlung=payment bezahlen=pay abgelehnt=declined abgebucht=charged rechnung=invoice
mehrwertsteuer=vat lieferung=delivery zugestellt=delivered paket=parcel sendungsverfolgung=tracking
adresse=address konto=account abo=subscription abonnement=subscription kündigen=cancel gutschein=voucher
rabatt=discount beschädigt=damaged kaputt=broken garantie=warranty punkte=points fehler=error spalte=column
datei=file konflikt=conflict abfrage=query langsam=slow
pt: reembolso=refund devolução=return devolvi=returned dinheiro=money senha=password redefinir=reset
esqueci=forgot expirou=expired cartão=card pagamento=payment recusado=declined recusada=declined cobrado=charged
cobrança=charge fatura=invoice entregue=delivered pacote=parcel rastreio=tracking rastreamento=tracking
endereço=address conta=account assinatura=subscription desconto=discount danificado=damaged quebrado=broken
pontos=points erro=error coluna=column arquivo=file conflito=conflict imagem=image
"""
ENGLISH_GLOSSES: dict[str, str] = {
    pair.split("=")[0]: pair.split("=")[1] for pair in _GLOSSARY.split() if "=" in pair
}


def english_glosses(text: str) -> str:
    """The English words of the term map for the words of `text`, once each, in order (empty for English)."""
    glosses = dict.fromkeys(ENGLISH_GLOSSES[word] for word in tokens(text) if word in ENGLISH_GLOSSES)
    return " ".join(glosses)


def glossed_in_place(text: str) -> str:
    """`text` with each word of the term map replaced by its English word where it stands ("Je souhaite être
    refunded pour la order"): the content words then weigh in the embedding's mean and in the lexical views as
    an English speaker's do, which the glosses appended alone do not (they are outnumbered by the other
    language's words)."""
    return WORD.sub(lambda match: ENGLISH_GLOSSES.get(match.group().lower(), match.group()), text)
