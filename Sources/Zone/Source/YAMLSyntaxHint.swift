/// YAML syntax errors in plain words. libyaml says where it gave up ("mapping values are not
/// allowed in this context", "found character that cannot start any token"); the mistake is
/// usually one of a few, often on a line above: a tab used for indentation, a line indented
/// differently from the lines around it, a missing space after a colon, an unclosed quote.
/// These look at the text itself and, where one fits, say it and point at it; libyaml's
/// words stay as a note.
enum YAMLSyntaxHint {
    struct Hint: Equatable {
        var message: String
        var line: Int
        var column: Int
    }

    /// `line`/`column` (from 1): where libyaml stopped; `context`: what it was reading
    /// ("while scanning a quoted scalar") and where that began.
    static func explain(problem: String, context: (text: String, line: Int, column: Int)?, line: Int, column: Int,
                        in text: String) -> Hint? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { Substring($0) }
        guard !lines.isEmpty else { return nil }
        if let context, context.text.contains("quoted scalar"), problem.contains("end of stream") || problem.contains("document") {
            let quote = lines.indices.contains(context.line - 1)
                ? lines[context.line - 1].dropFirst(max(0, context.column - 1)).first.map(String.init) ?? "\"" : "\""
            return Hint(message: "a quote (\(quote)) opened here is never closed: add the closing \(quote) on this line",
                        line: context.line, column: context.column)
        }
        if let context, let bracket = context.text.contains("flow sequence") ? ("[", "]")
            : context.text.contains("flow mapping") ? ("{", "}") : nil {
            return Hint(message: "the \(bracket.0) opened here is not closed where this line ends the "
                            + "\(bracket.0 == "[" ? "list" : "mapping"): add \(bracket.1) (or a ',' between two items)",
                        line: context.line, column: context.column)
        }
        // Look from the line libyaml stopped at up to the start of its block: the cause is there.
        let last = min(max(line, 1), lines.count)
        let candidates = Array(min(max(1, min(context?.line ?? line, line) - 1), last)...last)
        // A quote left open swallows the lines after it, up to the next quote: the first line
        // with an odd number of quotes since the block began is where it opened.
        for number in candidates {
            if let quote = unclosedQuote(lines[number - 1]) {
                return Hint(message: "this quote (\") is not closed on its line: add the closing \" (a quoted value "
                                + "cannot run on to the next line here)",
                            line: number, column: quote)
            }
        }
        for number in candidates.reversed() {
            let content = lines[number - 1]
            if let tab = indentationTab(content) {
                return Hint(message: "a tab is used for indentation: YAML indents with spaces only (replace the tab with spaces)",
                            line: number, column: tab)
            }
        }
        for number in candidates.reversed() {
            if let colon = colonWithoutSpace(lines[number - 1]) {
                return Hint(message: "a space is missing after the colon: write 'key: value' (with a space), "
                                + "or quote the value if the colon belongs to it",
                            line: number, column: colon + 1)
            }
        }
        if let hint = misindented(lines, from: candidates.first ?? 1, upTo: candidates.last ?? 1) { return hint }
        return nil
    }

    /// The column of a double quote that the line opens and does not close (before any comment).
    private static func unclosedQuote(_ line: Substring) -> Int? {
        var open: Int?
        var previous: Character = " "
        for (offset, character) in line.enumerated() {
            if character == "\"" && previous != "\\" {
                open = open == nil ? offset + 1 : nil
            } else if character == "#", open == nil, previous == " " {
                break
            }
            previous = character
        }
        return open
    }

    /// The column of a tab in the line's leading whitespace.
    private static func indentationTab(_ line: Substring) -> Int? {
        var column = 1
        for character in line {
            if character == "\t" { return column }
            guard character == " " else { return nil }
            column += 1
        }
        return nil
    }

    /// The column of a `key:value` colon: a plain key at the start of the line (after
    /// indentation and any `- `), followed by a colon and no space.
    private static func colonWithoutSpace(_ line: Substring) -> Int? {
        var rest = line.drop { $0 == " " }
        if rest.hasPrefix("- ") { rest = rest.dropFirst(2).drop { $0 == " " } }
        guard let first = rest.first, first.isLetter || first.isNumber else { return nil }
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let key = rest[..<colon]
        guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else { return nil }
        let after = rest[rest.index(after: colon)...]
        guard let next = after.first, next != " ", next != "/" else { return nil }
        return line.distance(from: line.startIndex, to: colon) + 1
    }

    /// The last line of `first...line` whose indentation is none of the enclosing levels above
    /// it (and not deeper after a line opening a block).
    private static func misindented(_ lines: [Substring], from first: Int, upTo line: Int) -> Hint? {
        guard line >= 2 else { return nil }
        func indent(_ text: Substring) -> Int { text.prefix { $0 == " " }.count }
        func isContent(_ text: Substring) -> Bool {
            let trimmed = text.drop { $0 == " " }
            return !trimmed.isEmpty && !trimmed.hasPrefix("#")
        }
        for number in stride(from: line, through: max(2, first), by: -1) where isContent(lines[number - 1]) {
            let here = indent(lines[number - 1])
            // The levels open at this line: walking up, each line less indented than all below it.
            var levels: [Int] = []
            var smallest = Int.max
            var previous: Substring?
            for above in stride(from: number - 1, through: 1, by: -1) where isContent(lines[above - 1]) {
                let level = indent(lines[above - 1])
                if previous == nil { previous = lines[above - 1] }
                if level < smallest {
                    levels.append(level)
                    smallest = level
                }
                if level == 0 { break }
            }
            guard let previous else { continue }
            let opensBlock = previous.trimmingTrailingComment.hasSuffix(":") || previous.drop { $0 == " " }.hasPrefix("- ")
            if levels.contains(here) || (opensBlock && here > indent(previous)) { continue }
            let expected = levels.first ?? 0
            return Hint(message: "this line is indented by \(here) space(s), the line above by \(expected): lines of one "
                            + "mapping or list start in the same column (a nested block goes further right, after a line "
                            + "ending with ':')",
                        line: number, column: here + 1)
        }
        return nil
    }
}

private extension Substring {
    /// The line without a ` # comment` and trailing spaces (good enough for plain lines).
    var trimmingTrailingComment: Substring {
        var text = self
        if let hash = text.range(of: " #") { text = text[..<hash.lowerBound] }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
