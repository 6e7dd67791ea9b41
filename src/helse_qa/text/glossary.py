"""A small English <-> Norwegian glossary of health-industry terms.

Users often ask in English about the Norwegian report (and the reverse). Dense retrieval
bridges the languages, but lexical matching cannot; expanding a question's words with
their translations lets BM25 and the answer selector match "export revenues" to
"eksportinntektene". The entries are general domain vocabulary, not answers: each line is
one concept, English forms | Norwegian forms.
"""

from __future__ import annotations

_ENTRIES = """
export exports exported | eksport eksporten eksportere
revenue revenues income | inntekt inntekter eksportinntekter
turnover turn sales sell sold | omsetning omsatte salg solgte
industry industries | industri industrien næring næringen
health | helse
healthcare | helsevesen helsetjeneste
company companies business businesses firm firms | bedrift bedrifter selskap selskaper
pharmaceutical pharmaceuticals drug drugs medicine medicines | legemiddel legemidler
diagnostics diagnostic | diagnostikk
treatment treatments | behandling
distribution distributor distributors | distribusjon
subcontractor subcontractors supplier suppliers | underleverandør underleverandører
specialised specialized | spesialisert spesialiserte spes
ict | ikt
provider providers | tilbyder tilbydere
share proportion percentage percent | andel prosent
billion billions | milliard milliarder mrd
million millions | million millioner
kroner nok | kroner
steering | styringsgruppe
group | gruppe
consultancy consultant consulting | konsulentselskap konsulent
interview interviews interviewed | intervju intervjuer intervjuet dybdeintervjuer
actor actors stakeholder stakeholders player players | aktør aktører
research | forskning
investment investments | investering investeringer
clinical | klinisk kliniske
trial trials study studies | studie studier
production manufacturing | produksjon vareproduksjon
growth grew grow | vekst vokste vokser
strength strengths strong | sterk sterke styrke
challenge challenges problem | utfordring utfordringer hovedutfordring rotproblemet
culture cultural | kultur kulturell kulturelle
commercialisation commercialization | kommersialisering
incentive incentives | incentiv incentiver insentiv insentiver
procurement purchasing | anskaffelse anskaffelser innkjøp anskaffelsesregimet
cluster clusters | klynge klynger klyngen
member members | medlem medlemmer
merger merge merged merging | sammenslåing sammenslåtte fusjon
office offices | kontor kontorer
board boards | styre styrene
report | rapport rapporten
project | prosjekt prosjektet
pre-project | forprosjekt forprosjektet
main | hovedprosjekt
recommendation recommendations | anbefaling anbefalinger
brand branding | merkevare merkevaren
nordic | nordisk nordiske norden
norway | norge
denmark | danmark
sweden | sverige
danish | dansk danske
swedish | svensk svenske
finland | finland
finnish | finsk finske
germany | tyskland
german | tysk tyske
scandinavia scandinavian | skandinavia skandinavisk skandinaviske
r&d | fou
norwegian | norsk norske
government | regjering myndigheter
municipality municipalities | kommune kommuner
hospital hospitals | sykehus
patient patients | pasient pasienter
data | data helsedata
tax taxation | skatt beskatning
capital | kapital
jobs employment | arbeidsplasser sysselsetting
employee employees staff workforce | ansatt ansatte medarbeider medarbeidere sysselsatte årsverk
innovation | innovasjon
positioning | posisjonering
startups start-ups | oppstartsselskaper oppstartsbedrifter
founded established | etablert
year | år
locomotive locomotives | lokomotiv lokomotiver lokomotivene
service services | tjeneste tjenester
offer offers offered | tilbyr tilby tilbød
ministry ministries | departement departementer departementene departementenes
role roles | rolle roller
responsibility responsibilities | ansvar
attractiveness | attraktivitet vertskapsattraktivitet
attract attracts attracting | tiltrekke tiltrekker
competence expertise talent | kompetanse
ecosystem ecosystems | økosystem økosystemer økosystemet
infrastructure | infrastruktur
coordination coordinate coordinated | koordinering koordinere koordinert koordineres
"""


def _parse() -> list[tuple[frozenset[str], frozenset[str]]]:
    pairs = []
    for line in _ENTRIES.strip().splitlines():
        english, norwegian = line.split("|")
        pairs.append((frozenset(english.split()), frozenset(norwegian.split())))
    return pairs


GLOSSARY = _parse()


def translations(word: str) -> set[str]:
    """Words of the other language for ``word`` (lower-case), or an empty set."""
    out: set[str] = set()
    for english, norwegian in GLOSSARY:
        if word in english:
            out |= norwegian
        if word in norwegian:
            out |= english
    return out


# Countries by their English and Norwegian names, for questions that ask which countries
# ("Hvilke land sammenlignes Norge med?"): one line per country.
_COUNTRIES = """
norway | norge noreg
sweden | sverige
denmark | danmark
finland | finland
iceland | island
germany | tyskland
united kingdom, uk, britain, great britain, england, scotland | storbritannia england skottland
united states, usa, us, america | usa amerika
france | frankrike
netherlands, holland | nederland
switzerland | sveits
belgium | belgia
austria | østerrike
ireland | irland
italy | italia
spain | spania
portugal | portugal
poland | polen
estonia | estland
latvia | latvia
lithuania | litauen
russia | russland
china | kina
japan | japan
india | india
singapore | singapore
south korea, korea | sør-korea korea
israel | israel
canada | canada
australia | australia
brazil | brasil
"""


def _country_names() -> frozenset[str]:
    names: set[str] = set()
    for line in _COUNTRIES.strip().splitlines():
        english, norwegian = line.split("|")
        names.update(n.strip() for n in english.split(",") if n.strip())
        names.update(norwegian.split())
    return frozenset(names)


COUNTRY_NAMES = _country_names()
