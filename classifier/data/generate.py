#!/usr/bin/env python3
"""Writes classifier/data/train-generated.jsonl: programmatically generated training
prompts for the task-type classifier, from templates and word lists written for
Switchyard (no outside text). Deterministic: the same script writes the same file.

    python3 classifier/data/generate.py > classifier/data/train-generated.jsonl

What it covers (the gaps classifier/data/README.md lists): short and casual prompts,
prompts in German, Spanish, French, Italian, Portuguese, Dutch and Polish, code pasted
without fences, error output, follow-up turns of multi-turn chats (rows with "messages":
the text classified is the last user turn, as in the router), chats with system prompts,
requests offering tools, short multi-source synthesis. Labels follow the corpus
definitions. Every row: source "switchyard/generated/<family>", licence the project's own.
"""
import json
import random
import sys

R = random.Random(18)
LIC = "project-written for Switchyard (generated from templates); same licence as Switchyard"
OUT = []


def pick(xs):
    return R.choice(xs)


def typo(s, p=0.25):
    """Casual style: sometimes lower case, a dropped letter, no final punctuation."""
    if R.random() < p:
        s = s.lower()
    if R.random() < p / 2 and len(s) > 12:
        i = R.randrange(1, len(s) - 1)
        if s[i].isalpha():
            s = s[:i] + s[i + 1:]
    if R.random() < p and s[-1:] in "?.":
        s = s[:-1]
    return s


def add(label, family, text=None, messages=None, tools=None):
    row = {}
    if messages is not None:
        row["messages"] = messages
        if tools:
            row["tools"] = tools
    else:
        row["text"] = text
    row.update({"label": label, "source": "switchyard/generated/" + family, "licence": LIC})
    OUT.append(row)


NAMES = ["Ana", "Ben", "Chloe", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ivo", "Jun",
         "Kemal", "Lotte", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Sven", "Tariq",
         "Ulla", "Vera", "Wen", "Ximena", "Yusuf", "Zofia"]

# ---------------------------------------------------------------- simple

FACTS = [
    "the capital of {c}", "the currency of {c}", "the official language of {c}",
    "the population of {c} roughly", "the time zone of {c}", "the dialling code for {c}",
    "the national dish of {c}", "the highest mountain in {c}",
]
COUNTRIES = ["Portugal", "Kenya", "Chile", "Vietnam", "Norway", "Morocco", "Peru", "Hungary",
             "New Zealand", "Ghana", "Uruguay", "Finland", "Laos", "Tunisia", "Ecuador",
             "Slovenia", "Mongolia", "Jordan", "Iceland", "Bolivia"]
Q_OPEN = ["what's {f}?", "what is {f}", "quick q: {f}?", "do you know {f}?", "tell me {f}",
          "{f}?", "remind me, {f}?"]
SIMPLE_MISC = [
    "how many teaspoons in a tablespoon", "what year did the Berlin wall fall",
    "who painted the girl with a pearl earring", "is a peanut a nut or a legume",
    "what does RSVP stand for", "how do you spell necessary", "synonym for 'happy'",
    "what's the plural of cactus", "what does 'ad hoc' mean", "how far is the moon",
    "what temperature does water boil at in fahrenheit", "when is the summer solstice",
    "what's the opposite of 'generous'", "who wrote pride and prejudice",
    "how many players on a rugby union team", "which element has the symbol Sn",
    "what does ETA mean in an email", "is it 'affect' or 'effect' here: the rain will ___ traffic",
    "what's a good word for someone who talks a lot", "define 'ubiquitous'",
    "how long is a marathon in km", "what language do they speak in Suriname",
    "what's the difference between weather and climate, in one line",
    "what is the largest ocean", "which planet is closest to the sun",
    "what does the abbreviation 'e.g.' stand for", "how many bones does an adult human have",
    "what is the freezing point of water in kelvin", "who is the author of 1984",
    "what colour do you get mixing blue and yellow", "how many minutes in a day",
]
YESNO = ["Answer yes or no: {q}", "{q} yes/no only", "just yes or no - {q}", "{q} (one word)"]
YESNO_Q = ["is Lisbon the capital of Portugal?", "is the Nile longer than the Amazon?",
           "do penguins live in the Arctic?", "is Mandarin a tonal language?",
           "was Einstein born in Germany?", "is a kilometre longer than a mile?",
           "is Venus hotter than Mercury?", "does Japan drive on the left?"]
FORMAT_TASKS = [
    ("Put this in title case: {x}", ["the old man and the sea", "a tale of two cities revisited",
                                     "notes from the quarterly planning meeting"]),
    ("Format this phone number in international format: {x}", ["0612345678 (NL)", "020 7946 0958 uk",
                                                                "(555) 014-2231 US"]),
    ("Clean up this address for an envelope: {x}", ["12 rue de la paix 75002 paris france",
                                                     "flat 3, 44 king st, edinburgh eh2 4ql",
                                                     "calle mayor 7 2b madrid 28013"]),
    ("Sort these alphabetically: {x}", ["pear, apple, mango, kiwi, fig",
                                        "Oslo, Berlin, Athens, Rome, Dublin",
                                        "zebra, ant, lion, moth, bee"]),
    ("Convert to a bulleted list: {x}", ["milk eggs bread butter coffee",
                                         "passport, charger, tickets, sunscreen"]),
    ("Turn this into a polite email subject line: {x}", ["need the invoice asap",
                                                         "meeting moved again??"]),
    ("Fix the grammar: {x}", ["me and him goes to the shop yesterday",
                              "their going to be late becuase of traffic",
                              "she don't like when people is loud"]),
    ("Extract the date from: {x}", ["Your appointment is confirmed for Thursday 14 March at 10:30.",
                                    "Delivery window: 3rd-5th of June, between 8am and noon."]),
    ("What's the sentiment of this review? {x}", ["\"Arrived broken and support never answered.\"",
                                                  "\"Honestly the best ramen I've had in years.\""]),
    ("Make this sound more professional: {x}", ["hey, can u send me the file thx",
                                                "we messed up the order, sorry"]),
    ("Shorten this to under 10 words: {x}", ["Please remember that the office will be closed on Monday for the public holiday.",
                                             "We would like to inform you that your package has been shipped today."]),
    ("Classify as spam or not spam: {x}", ["\"You WON a free cruise!!! click here\"",
                                           "\"Hi, attaching the minutes from Tuesday.\""]),
]
TRANSLATE = [
    ("translate to {lang}: {x}", ["where is the train station?", "I would like a table for two",
                                  "thank you for your help", "the meeting is postponed until Friday",
                                  "could you send me the invoice?", "I'm allergic to peanuts"]),
]
LANGS = ["French", "German", "Spanish", "Italian", "Portuguese", "Dutch", "Polish", "Japanese"]
SIMPLE_FOREIGN = [
    "Wie heißt die Hauptstadt von Australien?", "Was bedeutet 'Feierabend' auf Englisch?",
    "Übersetze bitte ins Englische: Ich komme morgen etwas später.",
    "¿Cuál es la capital de Canadá?", "¿Cómo se dice 'Gute Nacht' en español?",
    "Traduce al inglés: mañana no puedo ir a la reunión.",
    "Quelle est la capitale de la Suisse ?", "Corrige l'orthographe : je suis aller au marcher hier.",
    "Traduis en anglais : nous arrivons vers midi.", "Qual è la capitale della Slovacchia?",
    "Come si dice 'receipt' in italiano?", "Qual é a capital da Austrália?",
    "Traduz para inglês: o voo foi cancelado.", "Wat is de hoofdstad van België?",
    "Vertaal naar het Engels: ik ben mijn sleutels kwijt.", "Jaka jest stolica Kanady?",
    "Przetłumacz na angielski: dziękuję za szybką odpowiedź.",
    "日本の首都はどこですか？", "“谢谢”用英语怎么说？", "Fasse diesen Satz kürzer: Wir möchten Sie darüber informieren, dass das Büro geschlossen ist.",
    "Resume en una frase: El tren salió con retraso porque hubo una avería en la vía.",
    "Réécris plus poliment : envoie-moi le fichier maintenant.",
]
SIMPLE_SUMMARY = [
    "Summarise this in one sentence:\n\n{p}", "tl;dr:\n{p}", "Give me a headline for this:\n\n{p}",
    "What is the main point of this paragraph?\n\n{p}", "Translate into German:\n\n{p}",
]
PASSAGES = [
    "The library will extend its opening hours during the exam period. From 1 to 20 June it opens at 7:00 and closes at midnight, and the group study rooms can be booked online up to three days ahead.",
    "Our new recycling rules start next month. Glass goes in the green bin, paper in the blue one, and food waste must be put in the small brown caddy that will be delivered to every flat this week.",
    "The bakery on Elm Street has reopened after renovation. It now has a small seating area, serves breakfast until 11, and offers a gluten-free loaf on Saturdays.",
    "Starting Monday, the 42 bus will be diverted via Station Road because of water main repairs. Stops on Hill Lane will not be served for about three weeks.",
    "The museum's new exhibition brings together sixty paintings of harbours from the 17th century, several of them on loan from private collections and never shown in public before.",
]

# ---------------------------------------------------------------- code

TOOLS_HOWTO = {
    "git": ["squash my last three commits", "undo a git add", "rename a branch", "see who changed a line",
            "discard local changes to one file", "cherry-pick a commit from another branch",
            "delete a remote branch", "stash only some files", "change the last commit message",
            "find which commit introduced a bug"],
    "bash": ["loop over files with spaces in their names", "get the exit code of a piped command",
             "read a file line by line", "replace text in many files at once", "check if a variable is empty",
             "run a command every 5 minutes without cron", "count lines in all .py files"],
    "docker": ["see why my container exits immediately", "copy a file out of a container",
               "make a smaller python image", "pass env vars from a .env file", "clean up unused images",
               "mount the current directory into a container"],
    "kubernetes": ["restart a deployment", "see logs of a crashed pod", "give a pod more memory",
                   "port-forward a service", "roll back a bad deploy", "debug a CrashLoopBackOff"],
    "python": ["merge two dicts", "read a csv with pandas and skip bad lines", "parse dates with time zones",
               "make a class iterable", "run something in parallel", "pin dependency versions",
               "profile a slow function", "write a context manager", "flatten a nested list"],
    "javascript": ["debounce an input handler", "deep clone an object", "wait for several promises",
                   "format a number as currency", "remove duplicates from an array", "read query params"],
    "typescript": ["type a function that takes a callback", "make all fields of a type optional",
                   "narrow a union type", "fix 'object is possibly undefined'"],
    "sql": ["find duplicate emails", "get the second highest salary", "delete rows older than 30 days",
            "do an upsert in postgres", "pivot rows into columns", "index a column used in a LIKE query"],
    "css": ["make a sticky footer", "center something vertically", "make a grid with equal columns",
            "truncate text with an ellipsis", "style a checkbox", "stop an image from stretching"],
    "rust": ["share state between threads", "fix 'borrowed value does not live long enough'",
             "read a file into a string", "return an error from main", "convert a String to &str"],
    "go": ["read JSON from an HTTP request", "cancel a goroutine", "write a table-driven test",
           "embed static files in the binary", "handle errors without repeating if err != nil"],
    "kotlin": ["run work off the main thread", "keep a coroutine alive across rotation",
               "parse JSON with kotlinx.serialization", "make a data class immutable"],
    "swift": ["decode JSON into a struct", "update the UI from a background task",
              "make a list in SwiftUI refresh", "store a token in the keychain"],
    "android": ["schedule a background job", "request location permission", "fix a memory leak in an activity"],
    "react": ["stop a useEffect running twice", "lift state up to a parent", "memoise an expensive component",
              "fetch data on mount", "handle a form with many inputs"],
    "excel": ["look up a value from another sheet", "count cells that contain a word",
              "split a full name into two columns", "highlight duplicates", "sum only visible rows"],
    "terraform": ["import an existing bucket", "use one module for two environments", "fix a state lock"],
    "nginx": ["redirect http to https", "proxy websockets", "serve a single page app"],
    "regex": ["match an email address", "match a date like 2024-05-01", "capture everything between brackets"],
    "vim": ["replace a word in the whole file", "indent a block", "record a macro"],
    "powershell": ["list services that are stopped", "rename files in bulk"],
    "java": ["sort a list of objects by a field", "read a properties file", "fix a NullPointerException in a stream"],
    "c": ["read a line safely from stdin", "free a linked list", "find a segfault"],
    "c#": ["make an async method cancellable", "serialize an object to JSON"],
    "php": ["hash a password", "connect to mysql with PDO"],
    "flutter": ["make a scrollable list", "call a REST API"],
}
HOWTO_Q = ["how do I {a} in {t}?", "{t}: {a}", "how to {a} ({t})", "best way to {a} in {t}",
           "{t} question - how can I {a}?", "can you show me how to {a} with {t}",
           "what's the {t} way to {a}", "{a} {t}", "quick {t} help: {a}"]
CODE_FOREIGN = [
    "Wie kann ich in Python eine Liste nach zwei Schlüsseln sortieren?",
    "Warum bekomme ich bei git push 'rejected - non-fast-forward'?",
    "Schreib mir eine SQL-Abfrage, die doppelte Einträge findet.",
    "¿Cómo hago un merge de una rama en git sin perder cambios?",
    "Escribe una función en JavaScript que invierta una cadena.",
    "¿Por qué mi contenedor de docker se reinicia todo el tiempo?",
    "Comment lire un fichier JSON en Python ?", "Écris une fonction qui vérifie si un nombre est premier.",
    "Pourquoi mon script bash dit 'permission denied' ?",
    "Come faccio a fare il rebase di un branch su main?", "Scrivi una query SQL per contare gli ordini per cliente.",
    "Como faço para remover um commit que já foi enviado?", "Escreva um teste unitário em Java para essa classe.",
    "Hoe maak ik een virtuele omgeving in Python?", "Waarom geeft mijn React-component een lege lijst terug?",
    "Jak w Pythonie odczytać plik CSV?", "Dlaczego mój program w C kończy się błędem segmentation fault?",
    "Pythonでリストを逆順にするには？", "如何在 Git 中撤销上一次提交？",
]
SNIPPETS = [
    "for i in range(len(items)):\n    if items[i] == target:\n        return i\nreturn -1",
    "const total = cart.reduce((sum, item) => sum + item.price * item.qty)\nconsole.log(total)",
    "SELECT name, COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id GROUP BY name HAVING COUNT(*) > 5",
    "func worker(jobs <-chan int, results chan<- int) {\n\tfor j := range jobs {\n\t\tresults <- j * 2\n\t}\n}",
    "let mut v = Vec::new();\nfor x in 0..10 { v.push(x * x); }\nprintln!(\"{:?}\", v);",
    "df = pd.read_csv('sales.csv')\ndf['month'] = df['date'].dt.month\nprint(df.groupby('month').sum())",
    "if [ $count -gt 10 ] then\n  echo \"too many\"\nfi",
    "public int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }",
    "useEffect(() => {\n  fetch(url).then(r => r.json()).then(setData)\n})",
    "while True:\n    line = f.readline()\n    if not line: break\n    process(line)",
    "#include <stdio.h>\nint main() { char buf[8]; gets(buf); printf(\"%s\", buf); }",
    "UPDATE accounts SET balance = balance - 100 WHERE id = 7;\nUPDATE accounts SET balance = balance + 100 WHERE id = 9;",
    "x = [1, 2, 3]\ny = x\ny.append(4)\nprint(x)",
    "try:\n    val = int(s)\nexcept:\n    pass",
    "apiVersion: apps/v1\nkind: Deployment\nspec:\n  replicas: 3\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:latest",
]
SNIPPET_ASK = ["what's wrong with this?\n\n{s}", "{s}\n\nwhy doesn't this work", "can you make this faster:\n{s}",
               "explain what this does:\n{s}", "{s}\n\nrewrite this more idiomatically", "review this pls\n{s}",
               "{s}\n\nthis gives the wrong result, help", "is there a bug here?\n{s}", "add comments to this:\n{s}"]
ERRORS = [
    "Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n    user = users[uid]\nKeyError: 'u-193'",
    "TypeError: Cannot read properties of undefined (reading 'map')\n    at ProductList (ProductList.jsx:14:22)",
    "error[E0382]: borrow of moved value: `config`\n  --> src/main.rs:18:20",
    "Exception in thread \"main\" java.lang.NullPointerException\n\tat com.shop.Cart.total(Cart.java:41)",
    "npm ERR! code ERESOLVE\nnpm ERR! ERESOLVE unable to resolve dependency tree",
    "fatal: refusing to merge unrelated histories",
    "ERROR: relation \"users\" does not exist\nLINE 1: SELECT * FROM users;",
    "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\nmain.main()\n\t/app/main.go:9 +0x1d",
    "ModuleNotFoundError: No module named 'requests'",
    "Segmentation fault (core dumped)",
    "error: failed to push some refs to 'github.com:acme/api.git'",
    "CrashLoopBackOff: back-off 5m0s restarting failed container=api pod=api-7d9f",
    "E/AndroidRuntime: FATAL EXCEPTION: main\njava.lang.IllegalStateException: Fragment not attached to a context.",
    "SyntaxError: Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON",
    "ld: symbol(s) not found for architecture arm64",
]
ERROR_ASK = ["{e}\n\nwhat does this mean", "getting this:\n{e}\nhow do I fix it?", "{e}", "any idea?\n\n{e}",
             "my build fails with\n{e}", "{e}\n\nit worked yesterday, nothing changed"]
CODE_WRITE = ["write a {l} function that {w}", "{l}: {w}", "give me {l} code that {w}",
              "I need a small {l} script that {w}", "snippet in {l} that {w}?"]
CODE_LANGS = ["python", "javascript", "go", "rust", "bash", "java", "c#", "typescript", "ruby", "kotlin", "php", "SQL"]
CODE_WHAT = ["checks if a string is a palindrome", "retries an HTTP call with backoff", "renames photos by date",
             "parses a log file and counts errors per hour", "validates an IBAN", "converts celsius to fahrenheit",
             "removes duplicate lines from a file", "downloads a file and shows progress", "merges two sorted lists",
             "reads env vars with defaults", "generates a random password", "finds the most common word in a text",
             "watches a folder for new files", "rate limits requests per user"]

# ---------------------------------------------------------------- reasoning


def reasoning_rows():
    rows = []
    for _ in range(40):
        a, b = R.randint(200, 900), R.randint(150, 700)
        pa, pb = round(R.uniform(1.5, 9.9), 2), round(R.uniform(1.5, 9.9), 2)
        unit, cur = pick([("ml", "€"), ("g", "$"), ("ml", "£"), ("g", "€")])
        item = pick(["shampoo", "coffee", "olive oil", "rice", "washing liquid", "cereal", "honey"])
        rows.append(pick([
            f"{item}: {a}{unit} for {cur}{pa} or {b}{unit} for {cur}{pb} - which is cheaper per {'litre' if unit == 'ml' else 'kilo'}?",
            f"Is {a}{unit} of {item} at {cur}{pa} a better deal than {b}{unit} at {cur}{pb}? by how much",
            f"which {item} is better value, {cur}{pa} for {a}{unit} or {cur}{pb} for {b}{unit}",
        ]))
    for _ in range(30):
        n = R.randint(4, 9)
        rows.append(pick([
            f"in how many ways can {n} people sit around a round table?",
            f"how many handshakes if {n + 3} people all shake hands once",
            f"how many different {R.randint(3, 5)}-letter codes can you make from {n + 5} letters without repeats",
            f"{n} friends, pick a team of 3 - how many possible teams?",
            f"How many ways to arrange the letters of the word {pick(['LEVEL', 'BANANA', 'APPLE', 'COFFEE', 'PEPPER'])}?",
        ]))
    for _ in range(30):
        p = R.sample(NAMES, 4)
        rows.append(pick([
            f"{p[0]} is older than {p[1]}, {p[2]} is younger than {p[1]}, and {p[3]} is the oldest. Who is second oldest?",
            f"{p[0]} runs faster than {p[1]} but slower than {p[2]}. {p[3]} is slower than {p[1]}. Order them fastest to slowest.",
            f"{p[0]} sits left of {p[1]}, {p[2]} sits right of {p[1]}, {p[3]} is at the end next to {p[2]}. who's in the middle?",
            f"If {p[0]} always lies and {p[1]} always tells the truth, and {p[0]} says {p[2]} took the cake, who took it if only one of {p[2]} and {p[3]} did?",
        ]))
    for _ in range(30):
        s, t = R.randint(40, 120), round(R.uniform(1.2, 4.5), 1)
        rows.append(pick([
            f"a car goes {s} km/h for {t} hours then {s // 2} km/h for 30 min, how far did it go",
            f"If I walk at {R.randint(4, 6)} km/h, how long to walk {R.randint(7, 25)} km with a 15 min break every hour?",
            f"Two cyclists start {R.randint(30, 90)} km apart riding toward each other at {R.randint(15, 25)} and {R.randint(15, 25)} km/h. When do they meet?",
            f"a tap fills a tank in {R.randint(3, 8)} hours and a drain empties it in {R.randint(9, 14)} hours. both open, how long to fill?",
        ]))
    for _ in range(30):
        x, y = R.randint(10, 60), R.randint(5, 40)
        rows.append(pick([
            f"prices went up {x}% then down {y}%. overall change?",
            f"I earn {R.randint(2, 6)}k a month and save {y}%. how many months to save {R.randint(10, 40)}k?",
            f"If a jacket costs {R.randint(60, 200)} after a {x}% discount, what was the original price?",
            f"a loan of {R.randint(5, 50)}000 at {R.randint(2, 9)}% a year compounded, what's owed after {R.randint(2, 6)} years",
            f"which is more: {x}% of {y * 10} or {y}% of {x * 10}?",
        ]))
    for _ in range(25):
        rows.append(pick([
            f"how long would it take to read every book in a library of {R.randint(2, 90)}0,000 books at one per week",
            f"roughly how many piano tuners are there in a city of {R.randint(1, 9)} million people",
            f"estimate how many litres of water a family of {R.randint(3, 6)} uses in a year",
            f"if you stacked {R.randint(1, 9)} million sheets of paper, how tall would the stack be",
            f"how many times does a heart beat in {R.randint(20, 80)} years, roughly",
            f"about how long would it take to walk around the equator nonstop",
            f"how many tennis balls would fit in a {pick(['bus', 'bathtub', 'classroom', 'shipping container'])}?",
        ]))
    for _ in range(25):
        h, m = R.randint(1, 12), pick([0, 10, 15, 20, 30, 40, 45, 50])
        rows.append(pick([
            f"angle between the clock hands at {h}:{m:02d}",
            f"what is the last digit of {R.randint(2, 9)}^{R.randint(100, 3000)}",
            f"is {R.randint(1000, 9999)} divisible by {pick([3, 7, 9, 11])}? show why",
            f"sum of all numbers from 1 to {R.randint(50, 500)}",
            f"find x: {R.randint(2, 9)}x + {R.randint(1, 20)} = {R.randint(30, 90)}",
            f"probability of getting at least one six in {R.randint(2, 6)} dice rolls",
            f"If I draw 2 cards from a deck, what's the chance both are {pick(['hearts', 'aces', 'red', 'face cards'])}?",
            f"a bat and a ball cost {R.randint(2, 5)}.{R.randint(10, 90)} total, the bat costs 1.00 more than the ball. ball price?",
        ]))
    for _ in range(25):
        rows.append(pick([
            f"I have meetings with {', '.join(R.sample(NAMES, 3))} - each 45 min, none before 9 or after 13, {pick(NAMES)} only after 11, and I need a 15 min gap between. give me a schedule",
            f"Plan the order to visit the bakery, the post office and the pharmacy: post office closes at {R.randint(11, 13)}, the bakery runs out of bread by 10, the pharmacy opens at {R.randint(9, 10)}",
            f"We have {R.randint(3, 6)} tasks: A takes 2h, B 1h and needs A done, C 3h, D 1h and needs C. With two people, what's the fastest finish time?",
            f"Is it cheaper to take a taxi at {R.randint(2, 4)}/km for {R.randint(8, 30)} km or rent a car at {R.randint(30, 70)} a day plus fuel at 7 l/100km and {round(R.uniform(1.5, 2.1), 2)} per litre?",
            f"should I pay off a card at {R.randint(15, 25)}% or invest in a fund that averages {R.randint(5, 9)}%? I have {R.randint(2, 9)}000 spare. work it out",
            f"3 switches outside a room, 3 bulbs inside, you can enter once. how do you tell which switch is which?",
        ]))
    foreign = [
        "Ein Zug fährt um 8:10 los und braucht 2 Stunden 35 Minuten. Wann kommt er an, wenn er 20 Minuten Verspätung hat?",
        "Wenn 3 Maler ein Haus in 4 Tagen streichen, wie lange brauchen 5 Maler?",
        "Was ist günstiger: 6 Eier für 2,10 € oder 10 Eier für 3,40 €?",
        "Un tren sale a las 9:40 a 80 km/h y otro a las 10:10 a 100 km/h. ¿Cuándo lo alcanza?",
        "Si Ana tiene el doble de edad que Luis y dentro de 5 años la suma será 40, ¿qué edad tiene cada uno?",
        "¿De cuántas formas pueden sentarse 6 personas en una fila?",
        "Un article coûte 80 € après une remise de 20 %. Quel était le prix initial ?",
        "Si je lance deux dés, quelle est la probabilité d'obtenir une somme de 7 ?",
        "Quanto fa il 15% di 240, più 12?", "Se un'auto consuma 6 litri ogni 100 km, quanto spendo per 450 km a 1,85 € al litro?",
        "Se o Pedro é mais alto que a Ana e a Ana é mais alta que o Rui, quem é o mais baixo?",
        "Een fiets kost 480 euro na 20% korting. Wat was de oorspronkelijke prijs?",
        "Ile jest sposobów wybrania 3 osób z 8?",
        "一个水池，甲管6小时注满，乙管9小时注满，两管同时开，几小时注满？",
        "りんごが3個で240円のとき、7個ではいくらですか？",
    ]
    return rows + foreign

# ---------------------------------------------------------------- complex

SNIPS = {
    "email": ["From {a}: the supplier can deliver on the {d1}th if we confirm by Friday.",
              "From {a}: finance wants the order under 12k or it needs board approval.",
              "From {a}: the warehouse is closed the week of the {d2}th for inventory.",
              "From {a}: customer says they need the parts before the {d1}th, no later.",
              "From {a}: legal hasn't signed off on the new contract yet."],
    "review": ["\"Battery lasts two days, but the app crashes a lot.\"", "\"Great screen, terrible speaker.\"",
               "\"Setup took an hour and the manual was useless.\"", "\"Fast delivery, works as described.\"",
               "\"Stopped charging after a month.\"", "\"Love the design, hate the subscription.\""],
    "note": ["Standup {a}: API migration 70% done, blocked on auth tokens.",
             "Standup {a}: frontend ready, waiting for the new endpoints.",
             "Standup {a}: QA found 3 regressions in checkout.",
             "Standup {a}: infra says the new cluster is live next Tuesday."],
}
COMPLEX_ASK = ["Reconcile these and tell me what date we can actually commit to:",
               "Pull these together: what are the common themes and what should we fix first?",
               "Combine these updates into one status report with risks and owners:",
               "Compare these and summarise where they agree and disagree:",
               "Here are several messages. Build a timeline and flag the conflicts.",
               "Synthesise these into a short briefing for the manager:"]
RESEARCH = ["Compare {x} across at least three sources and give me a table with citations.",
            "Do a short literature review of {x}: what do recent studies agree on, where do they differ?",
            "Research {x} and write a briefing that weighs the evidence from several sources.",
            "I need an overview of {x}, drawing on official reports, news and academic work, with references.",
            "Gather what different countries have done about {x} and compare the outcomes."]
RESEARCH_X = ["four-day work week trials", "congestion charging in European cities", "heat pump subsidies",
              "remote work and productivity", "school phone bans", "microplastics in drinking water",
              "universal basic income pilots", "e-scooter safety regulations", "rent control effects",
              "AI use in hiring", "nuclear plant lifetime extensions", "sugar taxes"]
COMPLEX_FOREIGN = [
    "Vergleiche die Förderprogramme für Solaranlagen in Deutschland, Österreich und der Schweiz anhand offizieller Quellen und fasse die Unterschiede in einer Tabelle zusammen.",
    "Hier sind drei E-Mails vom Lieferanten, vom Einkauf und vom Kunden. Fasse zusammen, wo sie sich widersprechen, und schlage einen Termin vor.",
    "Compara las políticas de vivienda de Barcelona, Lisboa y Viena usando varias fuentes y resume qué ha funcionado.",
    "Tengo cuatro reseñas de clientes abajo: agrúpalas por tema y dime qué deberíamos priorizar.",
    "Compare les rapports de trois ONG sur la qualité de l'air à Paris et synthétise leurs conclusions.",
    "Fais une revue de la littérature récente sur le télétravail et la productivité, avec sources.",
    "Confronta questi tre verbali di riunione e prepara un riepilogo unico con decisioni e responsabili.",
    "Compare os relatórios de três bancos centrais sobre inflação e resuma onde concordam.",
    "Vergelijk de standpunten van vier partijen over woningbouw op basis van hun programma's en vat samen.",
    "Porównaj raporty trzech firm doradczych o rynku pracy i przygotuj krótkie podsumowanie.",
]

# ---------------------------------------------------------------- chats

SYSTEMS = ["You are a helpful assistant.", "You are the support assistant for Acme Cloud. Be concise.",
           "You are a senior software engineer. Answer with code when useful.",
           "You are a friendly tutor for high-school maths.", "You are a research assistant who cites sources.",
           "Answer in the language of the user.", "You are an internal HR helpdesk bot for Globex."]
FOLLOWUPS = {
    "code": ["now add type hints to it", "can you make it async?", "and write a unit test for that function",
             "it throws an IndexError on empty input, fix it", "port that to TypeScript", "make it handle unicode",
             "ok but I'm on Windows, what's the powershell version", "now do the same for the orders table",
             "can you refactor it into smaller functions", "add error handling and logging", "thanks! how do I run it in docker"],
    "reasoning": ["what if the price goes up 10% next year?", "and if there are 7 people instead?",
                  "ok now assume the second train is 15 minutes late", "redo it with 3 dice",
                  "what if she works 4 days a week instead of 5", "does the answer change if we can reuse digits?"],
    "simple": ["thanks! and what's the population?", "can you translate that into Spanish too?",
               "shorter please", "ok and the currency?", "great, now in bullet points", "what does that word mean?"],
    "complex": ["now add the two reports I pasted earlier and reconcile all five", "pull in the Q3 numbers from the other documents too and compare",
                "and compare that with what the other two sources said", "merge everything above into one briefing with risks and owners"],
}
FIRST_TURNS = {
    "code": ["write a python function that parses a date string", "how do I read a big csv in chunks", "here's my SQL: SELECT * FROM orders WHERE total > 100"],
    "reasoning": ["a train leaves at 9:00 at 90 km/h, another at 9:30 at 120 km/h, when does the second catch up", "how many ways can 5 people sit in a row", "compare a 3-year loan at 5% with a 5-year loan at 4%"],
    "simple": ["what's the capital of Peru?", "translate 'good morning' into Italian", "summarise this: the shop is closed on Monday"],
    "complex": ["here are three emails about the launch date, reconcile them", "compare these two vendor proposals", "summarise the key themes across these customer interviews"],
}
TOOL_DEFS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "search_orders", "parameters": {"type": "object", "properties": {"customer": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "run_sql", "parameters": {"type": "object", "properties": {"query": {"type": "string"}}}}},
]
TOOL_TURNS = [("simple", "what's the weather in Porto tomorrow?"), ("simple", "look up order 4471 for me"),
              ("code", "write and run a query that finds customers with more than 3 refunds"),
              ("complex", "check the last 20 orders, the refund log and the support tickets and tell me why refunds spiked"),
              ("reasoning", "using the order data, work out which delivery slot minimises late deliveries given 3 vans"),
              ("simple", "what time is it in Tokyo?"), ("code", "fix the failing migration and rerun it")]


def build():
    # simple
    for _ in range(60):
        add("simple", "simple_fact", typo(pick(Q_OPEN).format(f=pick(FACTS).format(c=pick(COUNTRIES)))))
    for s in SIMPLE_MISC:
        add("simple", "simple_fact", typo(s))
    for _ in range(16):
        add("simple", "simple_yesno", pick(YESNO).format(q=pick(YESNO_Q)))
    for tmpl, xs in FORMAT_TASKS:
        for x in xs:
            add("simple", "simple_format", tmpl.format(x=x))
    for tmpl, xs in TRANSLATE:
        for x in xs:
            for lang in R.sample(LANGS, 3):
                add("simple", "simple_translate", typo(tmpl.format(lang=lang, x=x)))
    for s in SIMPLE_FOREIGN:
        add("simple", "simple_multilingual", s)
    for p in PASSAGES:
        for t in R.sample(SIMPLE_SUMMARY, 2):
            add("simple", "simple_passage", t.format(p=p))
    # code
    for tool, acts in TOOLS_HOWTO.items():
        for a in acts:
            add("code", "code_howto", typo(pick(HOWTO_Q).format(a=a, t=tool), 0.35))
    for s in CODE_FOREIGN:
        add("code", "code_multilingual", s)
    for sn in SNIPPETS:
        for ask in R.sample(SNIPPET_ASK, 3):
            add("code", "code_unfenced", ask.format(s=sn))
    for e in ERRORS:
        for ask in R.sample(ERROR_ASK, 2):
            add("code", "code_error_output", ask.format(e=e))
    for _ in range(40):
        add("code", "code_write", typo(pick(CODE_WRITE).format(l=pick(CODE_LANGS), w=pick(CODE_WHAT))))
    # reasoning
    for t in reasoning_rows():
        add("reasoning", "reasoning_short", typo(t, 0.2) if t.isascii() else t)
    # complex
    for _ in range(45):
        kind = pick(list(SNIPS))
        k = R.randint(3, 5)
        items = R.sample(SNIPS[kind], min(k, len(SNIPS[kind])))
        people = R.sample(NAMES, len(items))
        d1, d2 = R.randint(10, 20), R.randint(3, 28)
        body = "\n".join(f"{i + 1}. " + it.format(a=people[i], d1=d1, d2=d2) for i, it in enumerate(items))
        ask = pick(COMPLEX_ASK)
        add("complex", "complex_short_multisource", f"{ask}\n\n{body}" if R.random() < 0.6 else f"{body}\n\n{ask}")
    for x in RESEARCH_X:
        for t in R.sample(RESEARCH, 2):
            add("complex", "complex_research", typo(t.format(x=x), 0.15))
    for s in COMPLEX_FOREIGN:
        add("complex", "complex_multilingual", s)
    # chats: system prompts, follow-up turns, tools
    for label, turns in FOLLOWUPS.items():
        for t in turns:
            for _ in range(2):
                first = pick(FIRST_TURNS[label])
                msgs = []
                if R.random() < 0.5:
                    msgs.append({"role": "system", "content": pick(SYSTEMS)})
                msgs += [{"role": "user", "content": first},
                         {"role": "assistant", "content": "Sure - here is what I found."},
                         {"role": "user", "content": typo(t)}]
                add(label, "chat_followup", messages=msgs)
    for label, fam in (("simple", SIMPLE_MISC), ("code", [q for v in TOOLS_HOWTO.values() for q in v]),
                       ("complex", [r.format(x=x) for r in RESEARCH for x in RESEARCH_X])):
        for q in R.sample(fam, 12):
            if label == "code":
                q = "how do I " + q
            msgs = [{"role": "system", "content": pick(SYSTEMS)},
                    {"role": "user", "content": [{"type": "text", "text": q}]}]
            add(label, "chat_system_prompt", messages=msgs)
    for label, t in TOOL_TURNS:
        for _ in range(2):
            msgs = [{"role": "system", "content": pick(SYSTEMS)}, {"role": "user", "content": t}]
            add(label, "chat_tools", messages=msgs, tools=R.sample(TOOL_DEFS, 2))

# ---------------------------------------------------------------- second round: gaps the
# 4-fold cross-validation over the project-written training rows showed (conceptual code
# questions, one-line tool questions with unfamiliar tool names, argument validity, Fermi
# estimates, geometry facts, non-English code and synthesis requests)

CONCEPTS = ["a closure", "a race condition", "a deadlock", "an index", "generics", "a decorator",
            "a promise", "ownership and borrowing", "a virtual function", "dependency injection",
            "a memory leak", "tail recursion", "a mutex", "an interface", "a goroutine", "a lambda",
            "big-O notation", "a hash map", "immutability", "an ORM", "a foreign key", "a REST endpoint",
            "a webhook", "garbage collection", "a pointer", "an iterator", "a generator", "a monad",
            "SQL injection", "CORS", "a unit test", "a mock", "a migration", "a transaction"]
CONCEPT_Q = ["what is {c} in {l}?", "explain {c} with a small {l} example", "what's {c}, with an example in {l}",
             "{l}: what is {c} and when would I use it", "can someone explain {c} ({l})", "eli5 {c} in {l}",
             "what does {c} mean in {l} code"]
MORE_TOOLS = {
    "openssl": ["check a certificate's expiry date", "make a self-signed cert", "convert pem to pfx"],
    "eslint": ["ignore one line", "turn off a rule for a folder", "fix everything automatically"],
    "apache": ["enable mod_rewrite", "set up a virtual host", "redirect www to non-www"],
    "kafka": ["stop a consumer group rebalancing", "reset consumer offsets", "list topics"],
    "systemd": ["restart a service on failure", "see logs for a unit", "run a timer every night"],
    "ssh": ["use a jump host", "copy my key to a server", "keep the connection alive"],
    "cron": ["run a job every weekday at 7", "log the output of a cron job"],
    "ffmpeg": ["cut a video without re-encoding", "extract the audio as mp3", "shrink a video file"],
    "jq": ["pick one field from every object", "filter an array by a value"],
    "curl": ["send a JSON POST", "follow redirects and show headers", "upload a file"],
    "make": ["pass a variable from the command line", "make a target always run"],
    "cmake": ["link a library", "set the C++ standard"],
    "gradle": ["speed up the build", "exclude a transitive dependency"],
    "pip": ["install from a requirements file offline", "fix 'externally-managed-environment'"],
    "npm": ["fix peer dependency conflicts", "publish a scoped package", "run a script in every workspace"],
    "pytest": ["run one test", "use a fixture in several files", "show print output"],
    "jest": ["mock a module", "test a promise that rejects"],
    "redis": ["expire keys by pattern", "see which keys use the most memory"],
    "mongodb": ["index a nested field", "update many documents at once"],
    "elasticsearch": ["reindex with a new mapping", "search two fields at once"],
    "aws cli": ["list s3 buckets by size", "assume a role", "tail lambda logs"],
    "helm": ["roll back a release", "override values for one environment"],
    "ansible": ["run a task only on one host", "store a password with vault"],
    "prometheus": ["write a rate query for errors", "alert when a target is down"],
    "webpack": ["split vendor code into its own bundle", "fix 'module not found'"],
    "postgres": ["see running queries", "kill a stuck query", "find missing indexes"],
    "gitlab ci": ["cache node_modules", "run a job only on tags"],
    "github actions": ["run a matrix of python versions", "use a secret in a workflow"],
    "vscode": ["debug a python script with arguments", "set up format on save"],
    "linux": ["find what's using port 8080", "see disk usage per folder", "find large files"],
}
TOOL_ONELINE = ["{t}: {a}", "{t} - {a}?", "{a} with {t}", "how to {a} in {t}", "{t} how do i {a}"]
CATS = [("doctors", "graduates", "musicians"), ("cats", "mammals", "pets"), ("poets", "writers", "teachers"),
        ("squares", "rectangles", "red shapes"), ("pilots", "employees", "runners"),
        ("roses", "flowers", "gifts"), ("students", "readers", "swimmers"), ("bakers", "early risers", "parents")]
VALIDITY = ["Is this argument valid? {p}", "does the conclusion follow? {p}", "check this reasoning: {p}",
            "{p} - valid or not, and why?", "is this a logical fallacy? {p}", "Evaluate the syllogism: {p}"]
FERMI = ["{h}: how many {x}?", "{h} - how many {x}, show your assumptions", "how many {x}? {h}",
         "estimate how many {x} ({h})"]
FERMI_H = ["back of the envelope", "ballpark", "fermi question", "rough estimate", "order of magnitude"]
FERMI_X = ["cups of coffee are drunk in London every day", "cars are on the road in Germany at rush hour",
           "hairs are on a human head", "golf balls fit in a school bus", "words a person speaks in a lifetime",
           "trees there are in a city park", "people are in the air on planes right now",
           "emails are sent worldwide per second", "bicycles are there in Amsterdam",
           "loaves of bread a bakery sells per week", "teachers work in a country of 10 million",
           "phones are thrown away in Europe each year"]
POLYGONS = ["pentagon", "hexagon", "heptagon", "octagon", "nonagon", "decagon", "dodecagon"]
CODE_FOREIGN_2 = [
    "Was ist eine Closure in JavaScript? Mit Beispiel bitte.", "Wie richte ich einen Cronjob ein, der jeden Montag läuft?",
    "Warum ist mein SQL-Join so langsam?", "Wie debugge ich ein Node-Skript in VS Code?",
    "¿Qué es una condición de carrera y cómo la evito en Go?", "¿Cómo configuro nginx como proxy inverso?",
    "¿Por qué git dice 'detached HEAD'?", "Qu'est-ce qu'un décorateur en Python ?",
    "Comment annuler le dernier commit sans perdre mes modifications ?", "Comment trier un tableau d'objets en JavaScript ?",
    "Cos'è un puntatore in C?", "Come posso leggere un file JSON in Java?", "O que é uma chave estrangeira em SQL?",
    "Como faço um loop em bash sobre todos os arquivos .txt?", "Wat is een race condition en hoe voorkom ik die?",
    "Hoe zet ik een cronjob op in Linux?", "Co to jest wskaźnik w C i jak go używać?",
    "Jak cofnąć ostatni commit w git?", "Pythonのデコレーターとは何ですか？", "Dockerでコンテナのログを見る方法は？",
    "如何用 Python 读取 CSV 文件？", "JavaScript 里的闭包是什么？",
]
COMPLEX_FOREIGN_2 = [
    "Fasse die drei Kundeninterviews unten zusammen und arbeite die gemeinsamen Probleme heraus.",
    "Vergleiche die Angebote der drei Lieferanten und empfiehl eines mit Begründung.",
    "Recopila lo que dicen varias fuentes sobre la semana laboral de cuatro días y compáralo.",
    "Aquí tienes las actas de dos reuniones: ¿qué decisiones cambiaron entre una y otra?",
    "Rassemble les avis de plusieurs études sur les trottinettes électriques et compare-les.",
    "Voici trois courriels contradictoires sur la date de livraison ; fais une chronologie et signale les conflits.",
    "Metti a confronto le recensioni qui sotto e raggruppale per tema.",
    "Confronte as três propostas abaixo e diga qual tem o melhor custo-benefício.",
    "Vat de drie rapporten samen en vergelijk hun aanbevelingen.",
    "Zestaw opinie z kilku źródeł o pracy zdalnej i porównaj wnioski.",
]


def build_round2():
    for _ in range(60):
        add("code", "code_concept", typo(pick(CONCEPT_Q).format(c=pick(CONCEPTS), l=pick(CODE_LANGS)), 0.3))
    for tool, acts in MORE_TOOLS.items():
        for a in acts:
            add("code", "code_howto", typo(pick(TOOL_ONELINE).format(t=tool, a=a), 0.3))
    for a, b, c in CATS:
        forms = [f"All {a} are {b}. Some {b} are {c}. Therefore some {a} are {c}.",
                 f"If someone is one of the {a}, they are one of the {b}. X is one of the {b}. So X is one of the {a}.",
                 f"No {a} are {c}. All {b} are {c}. Therefore no {b} are {a}.",
                 f"All {a} are {b}. No {b} are {c}. So no {a} are {c}."]
        for p in R.sample(forms, 3):
            add("reasoning", "reasoning_validity", pick(VALIDITY).format(p=p))
    for x in FERMI_X:
        for _ in range(2):
            add("reasoning", "reasoning_fermi", typo(pick(FERMI).format(h=pick(FERMI_H), x=x), 0.3))
    for poly in POLYGONS:
        add("reasoning", "reasoning_geometry", pick([f"sum of the interior angles of a {poly}?",
                                                     f"how many diagonals does a {poly} have",
                                                     f"each interior angle of a regular {poly}"]))
    for _ in range(16):
        r = R.randint(2, 30)
        add("reasoning", "reasoning_geometry", pick([f"area of a circle with radius {r} cm",
                                                     f"a ladder {r} m long leans on a wall {r // 2 + 1} m up, how far is its foot from the wall",
                                                     f"what's the diagonal of a {r} by {r + 3} rectangle",
                                                     f"volume of a cylinder {r} cm high with diameter {r // 2 + 2} cm"]))
    for s in CODE_FOREIGN_2:
        add("code", "code_multilingual", s)
    for s in COMPLEX_FOREIGN_2:
        add("complex", "complex_multilingual", s)


# ---------------------------------------------------------------- round 3 (issue 18, third pass)
# Open-domain factual look-ups in search-box style: counts that are facts, not arithmetic
# ("how many ... does ... have"), and attributes of institutions, teams and places asked
# as a bare phrase. Written after reading the dev errors (docs/benchmarks.md says so).

COUNTS = [("players", "a rugby union team on the field"), ("strings", "a cello"),
          ("keys", "a full size piano"), ("bones", "an adult human skeleton"),
          ("moons", "neptune"), ("teeth", "a dog"), ("hearts", "an earthworm"),
          ("legs", "a lobster"), ("time zones", "australia"), ("states", "mexico"),
          ("permanent members", "the un security council"), ("periods", "an ice hockey game"),
          ("holes", "a mini golf course usually"), ("pieces", "a chess set"),
          ("jokers", "a deck of cards"), ("articles", "the universal declaration of human rights"),
          ("cantons", "switzerland"), ("members", "the us house of representatives"),
          ("stars", "the eu flag"), ("stomachs", "a cow"), ("players", "a volleyball team on court"),
          ("quarters", "an nba game"), ("laps", "the monaco grand prix"),
          ("events", "a decathlon"), ("books", "the harry potter series"),
          ("symphonies", "beethoven write"), ("countries", "the european union"),
          ("official languages", "south africa"), ("lines", "a sonnet"),
          ("judges", "the us supreme court"), ("wickets", "a cricket innings"),
          ("players", "a water polo team"), ("floors", "the empire state building"),
          ("islands", "hawaii"), ("lanes", "an olympic swimming pool")]
COUNT_Q = ["how many {a} does {b} have", "how many {a} in {b}", "number of {a} in {b}?",
           "how many {a} are there in {b}"]
PLACES = ["university of toronto", "georgia tech", "eth zurich", "ohio state university",
          "johns hopkins nursing school", "london school of economics", "rice university",
          "the sorbonne", "tu delft", "university of cape town", "boston college law school",
          "purdue engineering", "kyoto university", "mcgill medical school", "texas a&m"]
PLACE_ATTR = ["ranking", "acceptance rate", "tuition fees", "founded", "mascot", "enrollment",
              "world ranking 2024", "colors", "motto"]
TEAMS = ["manchester united", "the chicago bulls", "the new york yankees", "real madrid",
         "the green bay packers", "the all blacks", "juventus", "the toronto maple leafs"]
TEAM_ATTR = ["stadium capacity", "home ground", "last title", "head coach", "founded",
             "nickname", "number of championships", "team colors"]


def build_round3():
    for a, b in COUNTS:
        add("simple", "simple_fact_open", typo(pick(COUNT_Q).format(a=a, b=b), 0.3))
    for p in PLACES:
        for attr in R.sample(PLACE_ATTR, 2):
            add("simple", "simple_fact_open", typo(f"{p} {attr}?", 0.3))
    for t in TEAMS:
        for attr in R.sample(TEAM_ATTR, 2):
            add("simple", "simple_fact_open", typo(f"{t} {attr}", 0.3))


build()
build_round2()
build_round3()
for row in OUT:
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
