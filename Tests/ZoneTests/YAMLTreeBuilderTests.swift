import Addressing
import TestSupport
import Testing
@testable import Zone

/// The one-pass tree builder gives what Yams' composer path gives: the same tree (kinds,
/// texts, positions) for every document it builds, and the same diagnostics for every one
/// it hands back to that path.
@Suite struct YAMLTreeBuilderTests {
    /// A node written out with everything a later step reads.
    static func render(_ node: YNode?) -> String {
        guard let node else { return "nil" }
        func at(_ p: SourcePosition) -> String { "@\(p.file):\(p.line):\(p.column)" }
        switch node {
        case .scalar(let s): return "\(s.kind):\(s.text.debugDescription)\(at(s.at))"
        case .sequence(let items, let p): return "[\(at(p)) " + items.map(render).joined(separator: ", ") + "]"
        case .mapping(let m):
            return "{\(at(m.at)) " + m.entries.map { render(.scalar($0.key)) + ": " + render($0.value) }.joined(separator: ", ") + "}"
        }
    }

    static func expectSame(_ text: String, built expected: Bool? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        let fast = YAMLDocument.parse(text, file: "z.yaml")
        let composed = YAMLDocument.composed(text, file: "z.yaml")
        #expect(render(fast.root) == render(composed.root), sourceLocation: sourceLocation)
        #expect(fast.errors == composed.errors, sourceLocation: sourceLocation)
        if let expected {
            let built = if case .built = YAMLTreeBuilder.build(text, file: "z.yaml", budget: .unlimited) { true } else { false }
            #expect(built == expected, "\(text)", sourceLocation: sourceLocation)
        }
    }

    @Test func theExampleZoneIsBuiltInOnePassAsComposed() throws {
        let text = try ExampleZone.yaml(pods: 3, racks: 2, units: 4, network: IPv4Network("10.0.0.0/8")!)
        Self.expectSame(text, built: true)
        Self.expectSame(exampleZoneText, built: true)
    }

    @Test func scalarsCollectionsAnchorsAndEmptiesAreBuiltAsComposed() {
        for text in [
            "", "# nothing\n", "---\n", "a: 1\n", "- 1\n- two\n- '3'\n- \"4\"\n- null\n- ~\n- true\n- 0x1f\n- 1.5e3\n- .inf\n",
            "a: &x { b: [1, 2, {c: d}] }\ne: *x\nf: *x\n", "a: &s text\nb: *s\n", "k: |\n  one\n  two\nl: >\n  folded\n",
            "a:\nb: ''\nc: \"\"\n", "x: [a, b, [c, [d]]]\ny: {}\nz: []\n", "- - - deep\n", "a: b # comment\n", "---\na: 1\n...\n",
            "key with spaces: a value, and more?\n", "ünï: cödé\n",
        ] {
            Self.expectSame(text, built: true)
        }
    }

    @Test func whatOnlyTheComposingPathReportsGoesThere() {
        for text in [
            "a: [1, 2\n", "a: 1\na: 2\n", "? [a]\n: 1\n", "? {a: 1}\n: 2\n", "a: &x 1\n*x : 2\n", "a: *missing\n",
            "a: !!str 12\n", "--- a\n--- b\n", "a: &r [*r]\n", "\t- bad\n", "a: b: c\n",
        ] {
            Self.expectSame(text, built: false)
        }
    }

    @Test func anAliasBombIsRefusedAsBefore() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...7 { text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n" }
        Self.expectSame(text, built: false)
        #expect(YAMLDocument.parse(text, file: "z.yaml").errors.first?.message.contains("more than") == true)
    }

    @Test func randomMutationsReadAsComposed() {
        var generator = SplitMix64(state: 77)
        let base = Array(exampleZoneText.utf8)
        for _ in 0..<200 {
            var bytes = base
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 32...126, using: &generator)
            }
            Self.expectSame(String(decoding: bytes, as: UTF8.self))
        }
    }
}
