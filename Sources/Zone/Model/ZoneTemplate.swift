import Mustache

/// A Mustache template from the zone (boot script, kickstart, preseed, ...), compiled
/// once when the zone loads.
///
/// Rendered output is plain text: Mustache's default HTML escaping would turn an `&`
/// in a kernel command line into `&amp;`.
public struct ZoneTemplate: Sendable {
    private static let textPragma = "{{% CONTENT_TYPE: TEXT}}"

    public struct SyntaxError: Error, Sendable {
        public var message: String
        public var line: Int
        public var column: Int
    }

    private let compiled: MustacheTemplate

    public init(text: String) throws(SyntaxError) {
        do {
            compiled = try MustacheTemplate(string: ZoneTemplate.textPragma + text)
        } catch let error as MustacheTemplate.ParserError {
            let line = error.context.lineNumber
            // The pragma sits at the start of line 1; report columns of the operator's text.
            let column = line == 1 ? max(1, error.context.columnNumber - ZoneTemplate.textPragma.count) : error.context.columnNumber
            throw SyntaxError(message: "\(error.error)", line: line, column: column)
        } catch {
            throw SyntaxError(message: "\(error)", line: 1, column: 1)
        }
    }

    /// Renders with a context of strings, numbers, arrays and dictionaries.
    public func render(_ context: [String: Any]) -> String { compiled.render(context) }
}
