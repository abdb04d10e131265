"""Words that name a particular person or place, for texts written in lower case.

Clio's rule (no topic is named after a person, place, organisation or date) is applied from the texts' own
casing first (`core.stages.naming.specific_words`); chats typed in lower case ("book a hotel in phoenix", "text
bailey") get no help from casing, so these lists of common first names, countries, US states
and large cities are specifics too. Words that are also ordinary English words are left out ("bill", "mark",
"rose", "may", "reading", "nice", "mobile", "turkey"): a list cannot tell them apart, and they name topics far
more often than people or places. Nationalities and languages are left out too: "Translate to Spanish" and
"Italian recipes" identify no one. Compiled by hand for this project from general knowledge; extend freely.
"""

from __future__ import annotations

FIRST_NAMES = """
aaron abigail adam adrian aiden alan albert alex alexander alexandra alexis alice alicia allison amanda amber amy
andrea andrew angela anna anne anthony antonio arthur ashley austin barbara benjamin beth betty beverly brandon
brenda brian brittany bruce bryan caleb cameron carl carlos carol caroline carolyn catherine charles charlotte
cheryl chloe christian christina christine christopher cindy claire cody colin connor craig cynthia daniel danielle
david deborah debra denise dennis derek diana diane donald donna dorothy douglas dylan edward elizabeth ella
emily emma eric erica ethan eugene evelyn fiona gabriel gary george gerald gloria gregory hannah harold harry
heather helen henry isabella jacob jacqueline james janet janice jason jeffrey jennifer jeremy jerry jesse
jessica joan joe john johnny jonathan jose joseph joshua joyce juan judith judy julia julie justin karen katherine
kathleen kathryn kayla keith kelly kenneth kevin kimberly kyle larry laura lauren lawrence linda lisa logan lori
louis lucas luis madison margaret maria marie marilyn martha martin mary matthew megan melissa michael michelle
mohammed muhammad nancy natalie nathan nicholas nicole noah olivia oliver pamela patricia patrick paul peter
philip rachel ralph randy raymond rebecca richard robert roger ronald russell ruth ryan samantha samuel sandra
sara sarah scott sean sharon shirley sophia stephanie stephen steven susan teresa terry theresa thomas timothy
tyler victoria vincent virginia walter wayne william zachary sofia lucia mateo santiago valentina camila diego
javier alejandro pablo jorge miguel carmen pilar lucie camille louise chloé léa manon hugo jules mathis nathan
lukas leon finn jonas elias lena lea mia hanna emilia anna joão pedro gabriel rafael matheus beatriz mariana
larissa fernanda ahmed ali fatima omar aisha yusuf priya rahul amit anjali arjun wei li ming yuki hiroshi kenji
bailey
""".split()

COUNTRIES = """
afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas bahrain
bangladesh barbados belarus belgium belize benin bhutan bolivia bosnia botswana brazil brunei bulgaria burundi
cambodia cameroon canada chile china colombia congo croatia cuba cyprus czechia czech denmark djibouti dominica
ecuador egypt eritrea estonia eswatini ethiopia fiji finland france gabon gambia georgia germany ghana greece
grenada guatemala guyana haiti honduras hungary iceland india indonesia iran iraq ireland israel italy
jamaica japan jordan kazakhstan kenya kiribati korea kosovo kuwait kyrgyzstan laos latvia lebanon lesotho liberia
libya liechtenstein lithuania luxembourg madagascar malawi malaysia maldives mali malta mauritania mauritius
mexico micronesia moldova monaco mongolia montenegro morocco mozambique myanmar namibia nauru nepal netherlands
nicaragua niger nigeria norway oman pakistan palau palestine panama paraguay peru philippines poland portugal
qatar romania russia rwanda samoa senegal serbia seychelles singapore slovakia slovenia somalia spain sri lanka
sudan suriname sweden switzerland syria taiwan tajikistan tanzania thailand togo tonga tunisia
turkmenistan tuvalu uganda ukraine uruguay uzbekistan vanuatu venezuela vietnam yemen zambia zimbabwe england
scotland wales britain uk usa america europe asia africa
""".split()

US_STATES = """
alabama alaska arizona arkansas california colorado connecticut delaware florida hawaii idaho illinois indiana
iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri montana
nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah vermont wisconsin wyoming carolina dakota
""".split()

CITIES = """
london paris berlin madrid rome lisbon dublin amsterdam brussels vienna prague warsaw budapest athens stockholm oslo
copenhagen helsinki zurich geneva munich hamburg frankfurt cologne milan naples barcelona valencia seville porto
edinburgh glasgow manchester liverpool birmingham leeds bristol cambridge oxford moscow istanbul cairo dubai
mumbai delhi bangalore beijing shanghai tokyo osaka seoul bangkok singapore jakarta manila sydney melbourne
auckland toronto vancouver montreal ottawa chicago boston seattle denver dallas houston austin atlanta miami
phoenix philadelphia detroit cleveland pittsburgh baltimore nashville memphis portland sacramento honolulu
orlando tampa minneapolis milwaukee cincinnati indianapolis columbus charlotte raleigh richmond albuquerque tucson
omaha tulsa anchorage glendale pasadena oakland fresno angeles francisco diego vegas orleans york brooklyn
manhattan queens bronx lyon marseille toulouse bordeaux nantes strasbourg lille stuttgart
dusseldorf leipzig dresden hanover bremen nuremberg rotterdam utrecht antwerp krakow bucharest sofia belgrade
zagreb kyiv kiev riga vilnius tallinn reykjavik casablanca marrakech nairobi lagos johannesburg capetown
buenos aires santiago bogota caracas quito havana
""".split()

PLACES_AND_PEOPLE = frozenset(FIRST_NAMES + COUNTRIES + US_STATES + CITIES)

# Organisations: names of companies and brands that chats in lower case mention ("is my american airlines
# flight on time", "my wells fargo account"). Single words that are not also ordinary English words, and
# names of several words as a pattern (their words alone are ordinary: "olive", "garden", "american").
# Technology names are not here: a coding topic is about them (`naming.TECHNICAL_WORDS`).
ORGANISATIONS = frozenset(
    """
fargo citibank hsbc barclays santander natwest lloyds monzo revolut jetblue ryanair easyjet lufthansa klm qantas
starbucks mcdonald's mcdonalds chipotle applebee's applebees walmart costco ikea netflix spotify hulu airbnb uber
lyft paypal venmo zelle amazon ebay bardenay
""".split()
)
ORGANISATION_NAMES = (
    r"(?:american|united|delta|southwest|alaska|british|spirit|frontier|hawaiian) air(?:lines?|ways)|"
    r"olive garden|red lobster|taco bell|burger king|pizza hut|bank of america|wells fargo|capital one|"
    r"home depot|whole foods|trader joe'?s|best buy|cheesecake factory|texas roadhouse|panera bread"
)
