"""Source code in a prompt: fenced Markdown blocks and unfenced runs of code-like lines.

A heuristic line scorer, not a parser: each line gets a code-likeness score from syntax that
prose almost never has (``def f(x):``, a line ending in ``{``, ``obj.method(``, ``#include <``)
minus a penalty for sentence-like text (function words, a capital start, a full stop).
Consecutive code-like lines form a block, reported line-aligned when it carries enough
evidence.  Pygments is not used: it is only a test dependency here, and lexing every line
with every lexer costs far more than the 0.3 ms/KB budget for prose.

Decisions where the brief left room:

* A single line of code (``pip install x``, ``x = f(y)``) scores at most 0.45, under the
  default ``min_score`` of 0.5: one command in a chat is not company IP, and the same shapes
  occur in prose and maths.  Lower ``min_score`` to see them.
* Data is not code: JSON values, CSV, logs and stack traces are not reported (a stack frame
  ends a block even though the trace quotes source lines).  Configuration is code when it
  names program-configuration keys (``apiVersion``, ``services``, ``dependencies``,
  ``runs-on`` ...).  HTML, CSS, SQL, shell, PowerShell and Dockerfiles are code; maths is not.
* A fence tagged with a programming language is trusted (0.95); an untagged fence lowers the
  bar; a fence tagged ``json``/``yaml``/``text``/``log`` is judged on its content alone.
"""

from __future__ import annotations

import re

from gateway.scan.findings import Hit

# Fence info strings naming a programming, markup or scripting language: trusted as code.
CODE_TAGS = frozenset(
    """python py python3 py3 ipython pycon javascript js jsx mjs cjs typescript ts tsx java c h cpp c++ cc
    cxx hpp hxx csharp cs c# go golang rust rs ruby rb php kotlin kt kts swift scala sc sql mysql postgresql
    postgres psql plsql pgsql tsql sqlite bash sh shell zsh fish ksh console shell-session shellsession
    terminal powershell ps1 pwsh ps bat cmd batch perl pl r lua dart haskell hs elixir ex exs erlang erl
    clojure clj cljs lisp elisp scheme racket ocaml ml fsharp fs vb vbnet vba objc objective-c objectivec
    objective-cpp matlab octave julia jl groovy gradle html htm xhtml css scss sass less vue svelte
    dockerfile docker containerfile makefile make mk cmake nginx apacheconf hcl terraform tf solidity sol
    asm nasm assembly x86asm verilog systemverilog vhdl graphql gql proto protobuf zig nim crystal d
    fortran f90 cobol pascal delphi ada prolog awk sed tcl applescript coffeescript coffee elm purescript
    reason rescript glsl hlsl wgsl cuda cu metal jinja jinja2 django erb ejs handlebars hbs twig liquid
    razor cshtml astro starlark bzl bazel nix puppet ansible jsp asp aspx vbscript abap apex cypher sparql
    smalltalk haxe""".split()  # noqa: SIM905 -- a word list reads better than a 200-item literal
)
# Keys that mark program configuration (Kubernetes, Compose, CI, package manifests, Ansible, Make).
_CONFIG_KEYS = (
    "apiVersion|kind|metadata|spec|containers|initContainers|image|imagePullPolicy|services|volumes|"
    "volumeMounts|ports|containerPort|environment|env|envFrom|steps|runs-on|uses|jobs|stages|script|"
    "before_script|dependencies|devDependencies|peerDependencies|scripts|compilerOptions|replicas|"
    "resources|limits|requests|healthcheck|depends_on|build|deploy|command|entrypoint|restart|networks|"
    "matrix|workflow_dispatch|pull_request|tasks|hosts|become|handlers|vars|plugins|extends|selector|"
    "matchLabels|labels|annotations|template|strategy|livenessProbe|readinessProbe|configMapKeyRef|"
    "secretKeyRef|targetPort|nodeSelector|tolerations|serviceAccountName|main|module|target|"
    "outDir|rootDir|include|exclude|engines|workspaces|lint|test|when|register|loop|notify|with"
)
_SHELL_TOOLS = (
    r"sudo|apt-get|apt|yum|dnf|apk|brew|pip3?|pipx|npm|npx|yarn|pnpm|bun|deno|git|docker|docker-compose|"
    r"podman|kubectl|helm|terraform|curl|wget|cd|ls|mkdir|rm|cp|mv|chmod|chown|grep|sed|awk|tar|ssh|scp|"
    r"rsync|cmake|cargo|rustup|go|mvn|gradle|gradlew|python3?|node|javac|gcc|g\+\+|clang|rustc|dotnet|"
    r"systemctl|journalctl|xargs|ln|az|aws|gcloud|conda|poetry|uv|pytest|psql|mysql|redis-cli|openssl|"
    r"ffmpeg|nohup|killall|pkill|iptables|ufw|crontab|pwd|env|unzip|zip|gzip|du|df|ps|kill|which|set|"
    r"source|export|exec|trap|shopt|tee|sort|uniq|wc|cut|tr|jq|yq"
)
_MODIFIERS = (
    "public|private|protected|internal|override|open|final|static|class|suspend|inline|operator|infix|"
    "tailrec|mutating|fileprivate|async|abstract|virtual|sealed"
)
_PS_VERBS = (
    "Get|Set|New|Remove|Add|Invoke|Start|Stop|Restart|Write|Import|Export|Test|Select|Where|ForEach|Out|"
    "Sort|Group|Format|Measure|Copy|Move|Rename|Enable|Disable|Update|Install|Register|Wait|Clear|Join|"
    "ConvertTo|ConvertFrom|Resolve"
)
# Statement shapes at the start of a line, strongest first, as "weight pattern"; a line starting
# with "|" adds alternatives to the pattern above, one with "&" continues it.  The first branch that
# matches wins.  Every pattern is linear, or bounded by ``_MAX_LINE``: no nested quantifier can
# match the same text in more than one way.
_STARTS = r"""
0.95 #!\s*/\S+|#\s*include\s*[<"]|#\s*define\s+\w+|#(?:ifndef|ifdef|endif|pragma|undef|if|elif)\b|<\?php\b
0.95 (?:async\s+)?def\s+\w+\s*\(.*\)\s*(?:->\s*[^:]+)?:
0.95 import\s+(?:\{[^}]*\}|\*\s+as\s+\w+|[\w$]+)\s*(?:,\s*\{[^}]*\})?\s+from\s+['"]
0.9 from\s+[\w.]+\s+import\s+(?:\(|\*|\w+(?:\s+as\s+\w+)?(?:\s*,\s*\w+(?:\s+as\s+\w+)?)*\s*$)
0.9 (?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*[\w$]*\s*\(
0.9 (?:pub(?:\(\w+\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?fn\s+\w+\s*(?:<[^>]*>)?\s*\(
0.9 (?:@\w+\s+)?(?:(?:%MODIFIERS%)\s+)*(?:func\s+(?:\([^)]*\)\s*)?\w+\s*(?:<[^>]*>)?\s*\(
|fun\s+(?:<[^>]*>\s*)?[\w.]+\s*\()|let\s+mut\s+\w|(?:if|while)\s+let\s+\w+
0.9 using\s+(?:static\s+|namespace\s+)?[\w.:]+\s*;|namespace\s+[\w.:\\]+\s*[{;]?\s*$
|use\s+[\w:\\]+(?:::\{[^}]*\}|::\*)?\s*;|mod\s+\w+\s*;
0.9 (?:(?:%MODIFIERS%|export|default|data|partial|pub|enum|case)\s+)+
&(?:class|interface|struct|enum|record|trait|object)\s+\w+
|(?:class|interface|struct|enum|trait|impl|object|union|namespace|module)\b[^{]*\{\s*$
|class\s+\w+\s*(?:\([\w.,\s=]*\))?\s*:\s*$
0.85 (?:(?:%MODIFIERS%)\s+)*class\s+\w+(?:<[^>]*>)?\s+(?:extends|implements|:)\s+[\w\\.<>]+
|(?:public|private|protected|internal)\s+(?:[\w<>\[\],?]+\s+)*[\w<>\[\]]+\s*\(
|(?:(?:static|inline|extern|const|unsigned|signed|virtual|constexpr)\s+)*(?:void|int|char|float|double
|bool|long|short|size_t|auto|u?int\d+_t|std::[\w:<>]+|String)\s*[*&]?\s+[*&]?\w+\s*[(=;\[]
0.85 (?:CREATE\s+(?:OR\s+REPLACE\s+)?(?:TABLE|VIEW|INDEX|UNIQUE\s+INDEX|FUNCTION|PROCEDURE|TRIGGER|SCHEMA
|DATABASE)|INSERT\s+INTO|ALTER\s+TABLE|DROP\s+(?:TABLE|VIEW|INDEX)|DELETE\s+FROM|UPDATE\s+\w+\s+SET
|MERGE\s+INTO|GRANT\s+\w+)\b|UPDATE\s+[\w.]+\s*$
0.85 (?:if|while|until)\s+\[\[?\s.*\]\]?\s*;?\s*(?:then|do)?\s*$|(?:for|while|until)\s+.*;\s*do\s*$
|\}\s*(?:else|catch|finally|while)\b|else\s+if\b.*\{\s*$
|attr_(?:accessor|reader|writer)\s+:|\w+(?:\.\w+)*\s+do\s*\|[\w, ]+\|\s*$
0.8 (?i:insert\s+into\s+[\w.]+\s*(?:\(|values)|create\s+table\s+\w|update\s+\w+\s+set\s+\w+\s*=
|select\s+(?=[^*,.]*[*,.])[\w.,*\s()]*?\s+from\s+\w|delete\s+from\s+\w+\s+where)
0.8 (?:if|elif|else\s+if|while|switch|for|foreach|catch|match|when|guard)\s*\(.*\)\s*\{?\s*$
|(?:if|elif|while)\s+(?=[^:]*(?:==|!=|<|>|\(|\[|\.|\bis\b|\bnot\b))[^:]*:\s*$
|except(?:\s+[\w.,() ]+(?:\s+as\s+\w+)?)?\s*:\s*$|(?:else|try|finally)\s*:\s*$
|with\s+.+\s+as\s+\w+\s*:\s*$|for\s+\w+(?:\s*,\s*\w+)*\s+in\s+(?=[^:]*[(\[.])[^:]*:\s*$
|(?:raise|throw)\s+(?:new\s+)?\w+(?:\.\w+)*\s*\(|return\b[^.!?]*;\s*$
0.8 (?:export\s+)?(?:declare\s+)?(?:const|let|var|val|local)\s+(?:\{[^}]*\}|\[[^\]]*\]|[\w$]{2,})
&\s*(?:[:?][^=]*)?=[^=]|local\s+function\s+\w
0.75 import\s+(?:static\s+)?[\w.]+(?:\.\*)?(?:\s+as\s+\w+)?\s*;?\s*$|import\s+['"(]
|(?:.*\|\s*)?(?:%PS_VERBS%)-[A-Z]\w+|param\s*\(
0.7 (?:inner\s+|left\s+(?:outer\s+)?|right\s+|full\s+)?join\s+[\w.]+(?:\s+(?:as\s+)?\w+)?\s+on\s+[\w.]+\s*=
|(?:where|and|or)\s+\w+\.\w+\s*(?:=|<>|!=|<=|>=|<|>|like\b|in\b|is\b)
|select\s+(?:distinct\s+)?(?:\*|[\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.()*]+(?:\s+as\s+\w+)?)+)\s*$
0.6 (?:describe|context|it|before|after|around|task|namespace|resource|get|post|put|patch|delete
|scenario|feature)\b.*\s+do(?:\s*\|[^|]*\|)?\s*$|.*[)"\]]\s+do(?:\s*\|[^|]*\|)?\s*$
|def\s+(?:self\.)?\w+[?!=]?\s*\(.*\)\s*$|(?:unless|elsif|until)\s+\S|(?:if|elseif|while)\s+.*\s+then\b
|[\w.]+\s+:\w+(?:\s*,\s*(?::\w+[?!]?|\w+:\s*\S+|->))+
|(?:enum|struct|union)\s+\w+\s*\{.*\}|case\s+[^:]+:(?:\s|$)|default\s*:|[a-z_]+(?:\s+"")+\s*\{\s*$
0.6 \w+\s*\(\)\s*\{\s*$|(?:%SHELL%)\b[^\n]*?\s(?:-{1,2}[\w-]+|\S*[/|>&$]\S*|[\w.-]+=\S*)
|(?:print|println|printf|puts|echo|console\.log|System\.out\.print\w*|fmt\.Print\w*|Console\.Write\w*
|std::cout|logger\.\w+|log\.\w+)\s*[("'<]
|[a-z-]+\s*:\s*[^;:]+;\s*$|[.#]?[\w-]+(?:(?:[\s,>+~]+|:{1,2})[.#]?[\w()-]+)*\s*\{\s*$
|(?:(?:module|class)\s+[A-Z]\w*(?:::\w+)*(?:\s*<\s*[A-Z][\w:]*)?|package\s+[\w.]+\s*;?
|(?:require|require_relative|include|load)\s*\(?\s*['"][^'"]*['"]\s*\)?\s*;?)\s*$
0.55 \$\s+\S|(?:sudo|apt-get|pip3?|npm|npx|yarn|pnpm|git|docker|kubectl|helm|cargo|mvn|brew|terraform
|gcloud|aws|az|conda|poetry|dotnet)\s+[a-z][\w-]*|(?:\$[A-Za-z_]\w*|[A-Z_][A-Z0-9_]{2,})\s*=\s*\S
|(?:-\s+)?(?:%CONFIG%):(?:\s|$)
|<(?:!DOCTYPE|html|head|body|div|span|p|a|ul|ol|li|table|tr|td|th|form|input|button|script|style
|link|meta|img|h[1-6]|section|header|footer|nav|main|template|svg|label|select|option|textarea
|iframe|article|aside|slot|router-view|View|Text)\b[^>]*>
0.5 \w+\s+(?:[A-Z]{3,}|VARCHAR\(\d+\)|NUMERIC\(\d+(?:,\s*\d+)?\))(?:\s+[A-Z]+)*(?:\s+\w+\(\))?\s*,?\s*$
|\w+\s+(?:serial|bigserial|int|integer|bigint|text|varchar\(\d+\)|boolean|timestamptz|timestamp|uuid
|jsonb|numeric\(\d+(?:,\s*\d+)?\))\b.*,\s*$
|(?:FROM|RUN|CMD|COPY|ADD|WORKDIR|ENV|EXPOSE|ENTRYPOINT|ARG|USER|VOLUME|LABEL|HEALTHCHECK)\s+\S
|(?:FROM|WHERE|JOIN|INNER\s+JOIN|LEFT\s+(?:OUTER\s+)?JOIN|GROUP\s+BY|ORDER\s+BY|HAVING|LIMIT|VALUES
|UNION(?:\s+ALL)?|RETURNING|SELECT|AND|OR|ON|SET)\s+[\w.(*'"]|@[\w.]+(?:\([^)]*\))?\s*$
|[A-Za-z_$][\w.$]*\(.*\)\s*;?\s*$|[a-z_$][\w$]*\s*:\s*[^\s,][^,]*,$|if\s+[\w.]+[?!]?(?:\(.*\))?\s*$
|(?:puts|p|pp|echo)\s+[\w.$@"':]
0.45 (?:if|elif|while)\s+(?:not\s+)?[\w.]+\s*:\s*$|def\s+(?:self\.)?\w+[?!=]?\s*$|return\b[^.!?]*$
|cd\s+\S+\s*$|from\s+[\w.]+(?:\s+(?:as\s+)?[a-z]\w*)?\s*$
0.3 (?:-\s+)?[a-z_][\w.-]*:(?:\s|$)|-\s+[\w./:@${}"'-]+\s*$|"[\w.$-]*"\s*:|\[[\w. -]+\]\s*$
"""
# Lines that end a block whatever their shape: logs and stack traces are data, not code.
_LOG = (
    r"\s*(?:\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\[?\d{2}:\d{2}:\d{2}[.,\]]|"
    r"\[?(?:INFO|WARN|WARNING|ERROR|DEBUG|TRACE|FATAL|CRITICAL|NOTICE)\]?[\s:]|File \".*\", line \d+|"
    r"at [\w.$<>/\[\] ]+\(.*(?::\d+|Native Method|Unknown Source)\)\s*$|Traceback \(most recent call last\)|"
    r"(?:[\w.]+\.)?\w*(?:Error|Exception)(?::\s.*)?$|goroutine \d+ \[|#\d+\s+0x[0-9a-f]+|\.\.\. \d+ more)"
)
_STRUCT = r"\s*(?:[})\]]+[;,)]*|end|fi|done|esac|then|do|else|begin|\}\}|</[\w.-]+>|\{|\[|\(|EOF|\)\s*\{)\s*"
_COMMENT = (
    r"\s*(?://|/\*|\*/|\* |\*$|#(?!#|!|\s*(?:include|define|if|ifdef|ifndef|endif|else|elif|pragma|undef|"
    r"import|region|endregion)\b)|--\s|<!--|-->|@@ )"
)
_OPERATORS = r"==|!=|<=|>=|=>|->|::|&&|\|\||\+\+|\+=|-=|\*=|/=|:=|<<|>>|\?\?|\?\.|\.\.\."
_CALLS = r"[A-Za-z_$][\w$]*\.[A-Za-z_$][\w$]*\s*\(|\b[A-Za-z_]\w+\("
_ASSIGN = r"[A-Za-z_$@][\w$@>.-]*+(?:\[[^\]]*\])*\s*(?:=|\+=|-=|\*=|/=|\|=|&=|:=|\?\?=|<-)\s*[^=\s]"
_CODE_WORDS = (
    r"\b(?:self|None|null|nil|NULL|nullptr|undefined|await|async|lambda|elif|isinstance|sizeof|typeof|"
    r"instanceof|kwargs|argv|stdin|stdout|stderr|println|printf|malloc|__\w+__)\b|\bthis\."
)
_IDENTS = r"\b[a-z]+_[a-z_\d]+\b|\b[a-z]+[A-Z][a-z]+\w*"
_STRINGS = r"\"(?:[^\"\\\n]|\\.)*\"|(?<![A-Za-z])'(?:[^'\\\n]|\\.)*'|`[^`\n]*`"
_TRAILING_COMMENT = r"(?<=[\w);}\]'\"])\s+(?:#|//)\s.*$"
_URL = r"\b(?:https?|ftp|file)://\S+|\b[\w.-]+@[\w-]+\.[\w.]+"
_FENCE = r"\s*(`{3,}|~{3,})\s*([^\s`{]*)"
# English function words that are not keywords in common languages (``if``, ``in``, ``for`` are).
_STOP = frozenset(
    """the an of to we you he she they it its I me my your our their us them his her that these those
    be been being was were are am will would can could should may might must shall have has had
    there here what which who whom when where why how just also very really please thanks thank hi hello
    dear about into over after before because but so than too only more most other such own same some
    any every each all at by on The We You He She They It I'm I've It's That These Those There Here What
    Which Who When Where Why How Please Thanks Hi Hello Dear But So Also Just My Our Your Their""".split()  # noqa: SIM905
)
# First words of statements that need no punctuation (``npm install``, ``FROM t``, ``end``).
_START_WORDS = """def class import from package module return if elif else while for end fi done esac then do
    begin try finally except with use mod namespace using let var val const fun func fn pub async export
    puts echo print require include raise throw yield SELECT FROM WHERE JOIN INNER LEFT RIGHT OUTER GROUP
    ORDER HAVING LIMIT VALUES UNION RETURNING AND OR ON SET INSERT UPDATE DELETE CREATE ALTER DROP MERGE
    GRANT WITH CASE WHEN THEN ELSE END select insert update delete create alter drop attr_accessor
    attr_reader unless elsif until local suspend override private public protected internal static RUN CMD
    COPY ADD WORKDIR ENV EXPOSE ENTRYPOINT ARG USER VOLUME LABEL vacuum VACUUM set data case sealed abstract
    open final describe context it before after scenario feature join inner left right where and or order
    group having limit pip python p pp"""
_SYMBOLS = "{}()[]=<>+*/%&|!;$@\\^~"
_MAX_LINE = 400
_OPENERS = (" do", ":", "(", "[", "|", "\\", ",", "->", "=>")  # a line that opens a block or continues
CODE, WEAK, STRUCT, COMMENT, BLANK, LOG, PROSE = range(7)
_CODELIKE = (CODE, WEAK, STRUCT, COMMENT)
Line = tuple[int, float]  # (class, score)
Block = tuple[int, int, float]  # (first line, end line exclusive, score)


def _compile_starts(table: str) -> tuple[re.Pattern[str], dict[str, float]]:
    rows: list[list[str]] = []
    for raw in table.strip().splitlines():
        if raw[0] in "|&":
            rows[-1][1] += raw.lstrip("&")
        else:
            weight, pattern = raw.split(" ", 1)
            rows.append([weight, pattern])
    subst = {
        "%MODIFIERS%": _MODIFIERS,
        "%PS_VERBS%": _PS_VERBS,
        "%SHELL%": _SHELL_TOOLS,
        "%CONFIG%": _CONFIG_KEYS,
    }
    branches, weights = [], {}
    for i, (weight, pattern) in enumerate(rows):
        for key, value in subst.items():
            pattern = pattern.replace(key, value)
        branches.append(f"(?P<s{i}>{pattern})")
        weights[f"s{i}"] = float(weight)
    return re.compile("|".join(branches)), weights


class SourceCodeDetector:
    """Reports source code as ``SOURCE_CODE`` hits (kind ``code``) spanning whole lines."""

    entity = "SOURCE_CODE"
    # Views that cannot show code the raw text's scan did not: nobody writes code in look-alike or
    # full-width letters, and numbers glued together make none.  (Decoded blobs can hold code.)
    skip_views = frozenset({"nfkc", "skeleton", "digits"})

    def __init__(self, name: str = "code", *, min_score: float = 0.5) -> None:
        self.name = name
        self.min_score = min_score
        self._starts, self._start_weight = _compile_starts(_STARTS)
        self._config_json = re.compile(r"(?:-\s+)?\"(?:" + _CONFIG_KEYS + r")\"\s*:")
        self._log = re.compile(_LOG)
        self._struct = re.compile(_STRUCT)
        self._comment = re.compile(_COMMENT)
        self._operators = re.compile(_OPERATORS)
        self._calls = re.compile(_CALLS)
        self._assign = re.compile(_ASSIGN)
        self._code_words = re.compile(_CODE_WORDS)
        self._idents = re.compile(_IDENTS)
        self._strings = re.compile(_STRINGS)
        self._trailing_comment = re.compile(_TRAILING_COMMENT)
        self._url = re.compile(_URL)
        self._fence = re.compile(_FENCE)
        self._word = re.compile(r"[A-Za-z]{2,}")
        self._quote_chars = re.compile(r"[\"'`]")
        self._hard_chars = re.compile(r"[{};=]")
        self._code_chars = re.compile(r"[{}()\[\];=<>$|&\"'`:#@\\/_*+]")
        self._start_words = frozenset(_START_WORDS.split() + re.findall(r"[a-z][\w+-]*", _SHELL_TOOLS))
        self._drop_symbols = str.maketrans("", "", _SYMBOLS)
        self._drop_quotes = str.maketrans("", "", "\"',+ ")

    def detect(self, text: str) -> list[Hit]:
        lines = text.splitlines(keepends=True)
        offsets = [0]
        for line in lines:
            offsets.append(offsets[-1] + len(line))
        hits: list[Hit] = []
        for first, end, score in self._blocks(lines):
            if score >= self.min_score:
                stop = offsets[end - 1] + len(lines[end - 1].rstrip("\r\n"))
                hits.append(Hit("code", self.entity, offsets[first], stop, round(score, 3), self.name))
        return hits

    # -- blocks -----------------------------------------------------------------------------------
    def _blocks(self, lines: list[str]) -> list[Block]:
        """Split the text at fences; score fence contents and the unfenced stretches between them."""
        found: list[Block] = []
        i, n, plain_from = 0, len(lines), 0
        while i < n:
            m = self._fence.match(lines[i])
            if m is None or (m.group(1)[0] == "`" and "`" in lines[i][m.end() :]):
                i += 1  # not a fence, or an inline ```code``` span on one line
                continue
            close = i + 1
            while close < n and not _closes(lines[close], m.group(1)):
                close += 1  # an unclosed fence runs to the end of the text, as Markdown renders it
            found.extend(self._runs(lines, plain_from, i))
            found.extend(self._fenced(lines, i + 1, close, m.group(2).lower().strip(".,;:")))
            i = plain_from = close + 1
        found.extend(self._runs(lines, plain_from, n))
        return found

    def _fenced(self, lines: list[str], lo: int, hi: int, tag: str) -> list[Block]:
        body = [k for k in range(lo, hi) if lines[k].strip()]
        if not body:
            return []
        first, end = body[0], body[-1] + 1
        if len(body) == 1 and len(lines[first]) < 200:
            return [(first, end, _single_line(self._classify(lines[first])[1]))]  # one command
        if tag in CODE_TAGS:
            return [(first, end, 0.95)]
        if tag:  # a data or unknown tag: judge the content as if it were not fenced
            return self._runs(lines, lo, hi)
        score = _block_score([self._classify(lines[k]) for k in range(first, end)], fenced=True)
        return [(first, end, score)] if score is not None else self._runs(lines, lo, hi)

    def _runs(self, lines: list[str], lo: int, hi: int) -> list[Block]:
        """Maximal runs of code-like lines in ``lines[lo:hi]``, each scored as a block."""
        out: list[Block] = []
        classes = [self._classify(lines[k]) for k in range(lo, hi)]
        k, n = 0, len(classes)
        while k < n:
            if classes[k][0] != CODE:
                k += 1
                continue
            first = k
            while first > 0 and classes[first - 1][0] in (WEAK, STRUCT, COMMENT):
                first -= 1  # a leading comment, decorator or weak line belongs to the block
            last, blanks, j = k, 0, k + 1
            while j < n and blanks <= 2:
                cls, score = classes[j]
                if cls == BLANK:
                    blanks += 1
                elif cls in _CODELIKE or (
                    # Between code lines: an indented docstring or long string, or a line with
                    # some code evidence of its own (``quicksort [] = []``).
                    cls == PROSE
                    and (lines[lo + j][:1] in " \t" or score > 0)
                    and _code_follows(lines, lo, classes, j)
                ):
                    blanks, last = 0, j
                else:
                    break
                j += 1
            body = _indented_body(lines, lo + k, lo + n) if classes[k][1] >= 0.9 else 0
            block_score: float | None
            if body >= 2:
                # A header (``def f(x):``, ``class C:``) over an indented body that is mostly a
                # docstring or comments: a function taken out of its file is code however it reads.
                last = max(last, k + body)
                block_score = max(0.7, _block_score(classes[first : last + 1], fenced=False) or 0.0)
            else:
                block_score = _block_score(classes[first : last + 1], fenced=False)
            if block_score is None and first == last:
                block_score = _single_line(classes[k][1])
            if block_score is not None:
                out.append((lo + first, lo + last + 1, block_score))
            k = last + 1
        return out

    # -- lines ------------------------------------------------------------------------------------
    def _classify(self, line: str) -> Line:
        s = line.strip()[:_MAX_LINE]  # bounds the cost of every pattern below on minified code
        if not s:
            return BLANK, 0.0
        if s[0] == "|" and s[-1] == "|":
            return PROSE, 0.0  # a Markdown table row
        if self._struct.fullmatch(s):
            return STRUCT, 0.3
        if self._log.match(s):
            return LOG, 0.0
        if self._comment.match(s):
            return COMMENT, 0.2
        first = s.split(None, 1)[0]
        if self._code_chars.search(s) is None and first not in self._start_words and "-" not in first:
            return PROSE, 0.0  # no code punctuation and no keyword or command to start a statement
        # Cheap exits for sentences, before the costly patterns (most prose ends here).
        words = [w.strip(",.!?;()\"'") for w in s.split()]  # keeps "name:" of "f(name: Type)" unplain
        n_words = len(words)
        if n_words >= 6:
            stops = sum(1 for w in words if w in _STOP)
            plain = sum(1 for w in words if w.isalnum())
            if s[0].isupper() and s[-1] in ".!?" and (5 * stops >= n_words or 5 * plain >= 4 * n_words):
                return PROSE, 0.0  # a sentence: code lines do not end in a full stop
            if (
                n_words >= 8
                and 20 * plain >= 17 * n_words
                and first not in self._start_words
                and self._hard_chars.search(s) is None
            ):
                return PROSE, 0.0  # a long run of plain words and no statement punctuation
        bare = self._strings.sub('""', s) if self._quote_chars.search(s) is not None else s
        if not bare.translate(self._drop_quotes):
            return WEAK, 0.3  # a string literal on its own line: a docstring or a continued argument
        if self._hard_chars.search(bare) is None and n_words >= 4 and not bare.endswith(_OPENERS):
            bare_words = bare.split()  # function words outside string literals
            if 4 * sum(1 for w in bare_words if w.strip(",.!?:;()\"'") in _STOP) >= len(bare_words):
                return PROSE, 0.0
        if "//" in bare or "@" in bare:
            bare = self._url.sub("u", bare)
        if "#" in bare or "//" in bare:
            bare = self._trailing_comment.sub("", bare)
        bare = bare.rstrip()
        score = self._evidence(bare, s) - self._prose_penalty(bare, s)
        if score >= 0.5:
            return CODE, score
        return (WEAK, score) if score >= 0.2 else (PROSE, score)

    def _evidence(self, bare: str, s: str) -> float:
        score = 0.0
        if self._config_json.match(s):
            score = 0.55  # a JSON key naming program configuration ("scripts", "dependencies")
        else:
            m = self._starts.match(bare)
            if m is not None and m.lastgroup is not None:
                score = self._start_weight[m.lastgroup]
        if not (bare[:1] == '"' and score <= 0.3):  # the end of a JSON data line says nothing
            if bare.endswith("{"):
                score += 0.45
            elif bare.endswith(";"):
                score += 0.45 if ("(" in bare or "=" in bare) else 0.25
            elif bare.endswith(("=>", "->", "\\", "(", "[")):
                score += 0.2
        score += min(0.45, 0.15 * len(self._operators.findall(bare)))
        calls = 0.2 * len(self._calls.findall(bare)) + (0.15 if "." in bare and "(" in bare else 0.0)
        score += min(0.4, calls)
        assign = self._assign.match(bare)
        if assign is not None:
            target = assign.group(0).split("=", 1)[0].strip(" +-*/|&:?<")
            score += 0.45 if len(target) > 1 else 0.15  # ``x = 4`` is as likely maths as code
        score += min(0.2, 0.1 * len(self._code_words.findall(bare)))
        score += min(0.2, 0.1 * len(self._idents.findall(bare)))
        visible = len(bare) - bare.count(" ")
        if visible and len(bare) - len(bare.translate(self._drop_symbols)) >= 0.12 * visible:
            score += 0.15
        return score

    def _prose_penalty(self, bare: str, s: str) -> float:
        words = self._word.findall(bare)
        penalty = 0.0
        if len(words) >= 3:
            stops = sum(1 for w in words if w in _STOP or w.lower() in _STOP)
            penalty += 1.2 * stops / len(words) * min(1.0, len(words) / 6)
            if s[-1] in ".?!" and s[0].isupper():
                penalty += 0.25
        if len(words) >= 12:
            penalty += 0.2
        return penalty


def _single_line(score: float) -> float:
    """One line of code, however clear, stays under the default ``min_score`` of 0.5."""
    return max(0.05, min(0.45, 0.25 + 0.2 * score))


def _closes(line: str, fence: str) -> bool:
    s = line.strip()
    return len(s) >= len(fence) and s == s[0] * len(s) and s[0] == fence[0]


def _code_follows(lines: list[str], lo: int, classes: list[Line], j: int) -> bool:
    """Whether the prose-like line ``j`` (a docstring, a long string) is followed by more code."""
    for k in range(j + 1, min(len(classes), j + 30)):
        cls = classes[k][0]
        if cls == BLANK or (cls == PROSE and lines[lo + k][:1] in " \t"):
            continue
        return cls in _CODELIKE
    return False


def _block_score(classes: list[Line], *, fenced: bool) -> float | None:
    """Evidence of a block: code lines count fully, weak and structural lines partly."""
    nonblank = [(cls, score) for cls, score in classes if cls != BLANK]
    if len(nonblank) < 2:
        return None
    if 3 * sum(1 for cls, _ in nonblank if cls == LOG) > len(nonblank):
        return None  # a log or a stack trace that quotes source lines
    n_code = sum(1 for cls, _ in nonblank if cls == CODE)
    mass = sum(
        min(score, 1.0) if cls == CODE else 0.5 * score if cls == WEAK else 0.25 if cls == STRUCT else 0.0
        for cls, score in nonblank
    )
    if fenced:
        return None if n_code == 0 and mass < 0.6 else min(0.95, 0.6 + 0.1 * mass)
    density = (n_code + 0.5 * sum(1 for cls, _ in nonblank if cls in (WEAK, STRUCT))) / len(nonblank)
    if n_code == 0 or mass < 1.1 or density < 0.4:
        return None
    return min(0.97, 0.45 + 0.1 * mass * density)


_MAX_BODY = 200  # lines of an indented body read after a header


def _indented_body(lines: list[str], header: int, end: int) -> int:
    """How many lines after ``lines[header]`` (a line ending in ``:``) belong to its indented body:
    blank lines, and lines indented deeper than the header, up to the last of those; 0 when the
    header does not end in a colon or fewer than two non-blank lines follow it indented."""
    head = lines[header].rstrip()
    if not head.endswith(":"):
        return 0
    indent = len(head) - len(head.lstrip())
    last, filled = 0, 0
    for j in range(header + 1, min(end, header + 1 + _MAX_BODY)):
        line = lines[j].rstrip("\r\n")
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent:
            break
        last, filled = j - header, filled + 1
    return last if filled >= 2 else 0
