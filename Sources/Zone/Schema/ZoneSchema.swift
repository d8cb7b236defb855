import Foundation

/// The zone file's JSON Schema (draft 2020-12), generated from the same shape the
/// parser checks against, so editors and the parser never disagree.
public enum ZoneSchema {
    public static func jsonSchema() -> String {
        var root = schema(for: ZoneShape.document)
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        root["$id"] = "https://zoneboot.dev/schema/zone-v1.json"
        root["title"] = "ZoneBoot zone file (\(ZoneShape.apiVersion))"
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private static func schema(for shape: Shape) -> [String: Any] {
        switch shape {
        case .any:
            return [:]
        case .list(let item):
            return ["type": "array", "items": schema(for: item)]
        case .dictionary(let key, let value):
            return ["type": "object", "propertyNames": schema(for: key), "additionalProperties": schema(for: value)]
        case .object(let fields):
            var properties: [String: Any] = [:]
            for field in fields {
                var property = schema(for: field.shape)
                property["description"] = field.doc
                properties[field.name] = property
            }
            var object: [String: Any] = ["type": "object", "properties": properties, "additionalProperties": false]
            let required = fields.filter(\.required).map(\.name)
            if !required.isEmpty { object["required"] = required }
            return object
        case .scalar(let format):
            return schema(for: format)
        }
    }

    // Patterns are deliberately a little looser than the parser where a regex cannot say it
    // (octet ranges, ascending ranges): the editor catches typos, the parser has the last word.
    private static let octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    private static let ipv4 = "\(octet)(\\.\(octet)){3}"

    private static func schema(for format: Format) -> [String: Any] {
        switch format {
        case .text, .path, .installer:
            return ["type": "string"]
        case .label:
            return ["type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"]
        case .domain:
            return ["type": "string", "pattern": "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"]
        case .ipv4:
            return ["type": "string", "pattern": "^\(ipv4)$"]
        case .cidr:
            return ["type": "string", "pattern": "^\(ipv4)/([0-9]|[12][0-9]|3[0-2])$"]
        case .duration:
            return ["type": "string", "pattern": "^[1-9][0-9]*[smhd]$"]
        case .portRange:
            return ["type": "string", "minLength": 1, "pattern": "^\\S+$"]
        case .addressRange:
            return ["type": "string", "pattern": "^\(ipv4)-\(ipv4)$"]
        case .integer(let bounds):
            return ["type": "integer", "minimum": bounds.lowerBound, "maximum": bounds.upperBound]
        case .integerOrRange(let bounds):
            return ["oneOf": [
                ["type": "integer", "minimum": bounds.lowerBound, "maximum": bounds.upperBound],
                ["type": "string", "pattern": "^[0-9]+-[0-9]+$"],
            ]]
        case .nameTemplate:
            let names = NameTemplate.Placeholder.allCases.map(\.rawValue).joined(separator: "|")
            return ["type": "string", "pattern": "^([^{}]|\\{(\(names))(:[0-9]{1,2})?\\})*$"]
        case .oneOf(let choices):
            return ["type": "string", "enum": choices]
        case .variableName, .groupName:
            return ["type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"]
        }
    }
}
