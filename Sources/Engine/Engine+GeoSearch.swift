// GEOSEARCH, GEOSEARCHSTORE and the GEORADIUS family: one parser and one search for all
// (Redis's georadiusGeneric). The fixed arguments come first (GEORADIUS's centre and
// radius, GEORADIUSBYMEMBER's member and radius), then options in any order, then the
// checks on their combination. The results are sorted by distance when asked (COUNT
// without ANY implies ASC), cut to COUNT, and either answered or stored: scores are the
// members' geohashes, or with STOREDIST their distances in the query's unit.
import Keyspace
import Wire

/// The options of one search request, as parsed.
struct GeoSearchOptions {
    enum Order { case unsorted, ascending, descending }

    var center: (longitude: Double, latitude: Double)? = nil
    /// Set by FROMMEMBER (even when the key is absent and nothing could be looked up).
    var fromMember = false
    var shape: GeoShape? = nil
    var unit = GeoUnit(meters: 1)
    var withDistance = false, withHash = false, withCoordinates = false
    var any = false
    var count: Int64 = 0
    var order = Order.unsorted
    var storeKey: Bytes? = nil
    var storeDistance = false
}

extension Engine {
    /// The commands' fixed layout: where the source key is and where options start.
    private struct GeoSearchForm {
        let command: CommandID
        var source: Int { command == .geosearchstore ? 2 : 1 }
        var optionsStart: Int {
            switch command {
            case .georadius, .georadius_ro: return 6
            case .georadiusbymember, .georadiusbymember_ro: return 5
            case .geosearchstore: return 3
            default: return 2
            }
        }
        var isSearch: Bool { command == .geosearch || command == .geosearchstore }
        var mayStore: Bool { command == .georadius || command == .georadiusbymember }
    }

    func geoSearch(_ id: CommandID, _ arguments: [Bytes], _ session: Session, now: Int64) throws -> RESPValue {
        let form = GeoSearchForm(command: id)
        let sourceKey = arguments[form.source]
        let source = try keyspace.sortedSetForReading(sourceKey, now: now)
        var options = GeoSearchOptions()
        if id == .geosearchstore { options.storeKey = arguments[1] }
        try parseFixedArguments(form, arguments, source: source, into: &options)
        try parseOptions(form, arguments, source: source, into: &options)
        try checkCombination(form, options)
        guard let source, let center = options.center, let shape = options.shape else {
            guard let destination = options.storeKey else { return .array([]) }
            _ = keyspace.delete(destination, now: now)
            return .integer(0)
        }
        let query = GeoQuery(longitude: center.longitude, latitude: center.latitude, shape: shape,
                             limit: options.any ? Int(clamping: options.count) : 0)
        var matches = GeoSearch.search(query, in: source)
        // COUNT without ANY means the nearest ones.
        if options.count > 0, !options.any, options.order == .unsorted { options.order = .ascending }
        switch options.order {
        case .unsorted: break
        case .ascending: matches = Self.stableSorted(matches, descending: false)
        case .descending: matches = Self.stableSorted(matches, descending: true)
        }
        if options.count > 0, Int64(matches.count) > options.count { matches.removeLast(matches.count - Int(options.count)) }
        if let destination = options.storeKey {
            let elements = matches.map {
                ScoredMember(member: $0.member, score: options.storeDistance ? $0.distance / options.unit.meters : $0.score)
            }
            _ = keyspace.sortedSetStore(elements, into: destination, now: now)
            return .integer(Int64(matches.count))
        }
        return .array(matches.map { Self.searchReply($0, options) })
    }

    /// `matches` by distance, ties kept in visiting order.
    private static func stableSorted(_ matches: [GeoMatch], descending: Bool) -> [GeoMatch] {
        matches.enumerated().sorted { left, right in
            if left.element.distance != right.element.distance {
                return descending ? left.element.distance > right.element.distance : left.element.distance < right.element.distance
            }
            return left.offset < right.offset
        }.map(\.element)
    }

    /// A member alone, or [member, distance?, hash?, [longitude, latitude]?].
    private static func searchReply(_ match: GeoMatch, _ options: GeoSearchOptions) -> RESPValue {
        guard options.withDistance || options.withHash || options.withCoordinates else { return .bulk(match.member) }
        var fields: [RESPValue] = [.bulk(match.member)]
        if options.withDistance { fields.append(distanceReply(match.distance / options.unit.meters)) }
        if options.withHash { fields.append(.integer(Int64(match.score))) }
        if options.withCoordinates { fields.append(coordinates(longitude: match.longitude, latitude: match.latitude)) }
        return .array(fields)
    }

    // MARK: - Parsing

    /// GEORADIUS's longitude, latitude, radius and unit; GEORADIUSBYMEMBER's member (when
    /// the key exists: otherwise nothing more is read), radius and unit.
    private func parseFixedArguments(_ form: GeoSearchForm, _ arguments: [Bytes], source: SortedSet?,
                                     into options: inout GeoSearchOptions) throws {
        switch form.command {
        case .georadius, .georadius_ro:
            options.center = try Self.geoPoint(arguments[2], arguments[3])
        case .georadiusbymember, .georadiusbymember_ro:
            guard let source else { return }
            options.center = try Self.memberPosition(arguments[2], in: source)
        default: return
        }
        let radiusIndex = form.optionsStart - 2
        try Self.parseRadius(arguments[radiusIndex], arguments[radiusIndex + 1], into: &options)
    }

    private static func memberPosition(_ member: Bytes, in source: SortedSet) throws(CommandError) -> (longitude: Double, latitude: Double) {
        guard let score = source.score(of: member) else { throw .message("ERR could not decode requested zset member") }
        return GeoHash.center(of: GeoHash.cell(score: score))
    }

    private static func parseRadius(_ radius: Bytes, _ unit: Bytes, into options: inout GeoSearchOptions) throws(CommandError) {
        let value = try geoSize(radius, name: "radius")
        guard value >= 0 else { throw .message("ERR radius cannot be negative") }
        options.unit = try GeoUnit.parse(unit)
        options.shape = .radius(value * options.unit.meters)
    }

    private func parseOptions(_ form: GeoSearchForm, _ arguments: [Bytes], source: SortedSet?,
                              into options: inout GeoSearchOptions) throws {
        var index = form.optionsStart
        while index < arguments.count {
            let option = arguments[index], left = arguments.count - index - 1
            if Arguments.isKeyword(option, "withdist") { options.withDistance = true }
            else if Arguments.isKeyword(option, "withhash") { options.withHash = true }
            else if Arguments.isKeyword(option, "withcoord") { options.withCoordinates = true }
            else if Arguments.isKeyword(option, "any") { options.any = true }
            else if Arguments.isKeyword(option, "asc") { options.order = .ascending }
            else if Arguments.isKeyword(option, "desc") { options.order = .descending }
            else if Arguments.isKeyword(option, "count"), left >= 1 {
                options.count = try Arguments.integer(arguments[index + 1])
                guard options.count > 0 else { throw CommandError.message("ERR COUNT must be > 0") }
                index += 1
            } else if form.mayStore, left >= 1, Arguments.isKeyword(option, "store") || Arguments.isKeyword(option, "storedist") {
                options.storeKey = arguments[index + 1]
                options.storeDistance = Arguments.isKeyword(option, "storedist")
                index += 1
            } else if form.command == .geosearchstore, Arguments.isKeyword(option, "storedist") {
                options.storeDistance = true
            } else if form.isSearch, left >= 1, Arguments.isKeyword(option, "frommember") {
                guard options.center == nil || options.fromMember else { throw CommandError.syntax }
                options.fromMember = true
                if let source { options.center = try Self.memberPosition(arguments[index + 1], in: source) }
                index += 1
            } else if form.isSearch, left >= 2, Arguments.isKeyword(option, "fromlonlat") {
                guard !options.fromMember else { throw CommandError.syntax }
                options.center = try Self.geoPoint(arguments[index + 1], arguments[index + 2])
                index += 2
            } else if form.isSearch, left >= 2, Arguments.isKeyword(option, "byradius") {
                if case .box = options.shape { throw CommandError.syntax }
                try Self.parseRadius(arguments[index + 1], arguments[index + 2], into: &options)
                index += 2
            } else if form.isSearch, left >= 3, Arguments.isKeyword(option, "bybox") {
                if case .radius = options.shape { throw CommandError.syntax }
                let width = try Self.geoSize(arguments[index + 1], name: "width")
                let height = try Self.geoSize(arguments[index + 2], name: "height")
                guard width >= 0, height >= 0 else { throw CommandError.message("ERR height or width cannot be negative") }
                options.unit = try GeoUnit.parse(arguments[index + 3])
                options.shape = .box(width: width * options.unit.meters, height: height * options.unit.meters)
                index += 3
            } else {
                throw CommandError.syntax
            }
            index += 1
        }
    }

    /// The checks on the options together, in Redis's order.
    private func checkCombination(_ form: GeoSearchForm, _ options: GeoSearchOptions) throws(CommandError) {
        if form.isSearch {
            guard options.center != nil || options.fromMember else {
                throw .message("ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for \(form.command == .geosearch ? "GEOSEARCH" : "GEOSEARCHSTORE")")
            }
            guard options.shape != nil else {
                throw .message("ERR exactly one of BYRADIUS and BYBOX can be specified for \(form.command == .geosearch ? "GEOSEARCH" : "GEOSEARCHSTORE")")
            }
        }
        if options.storeKey != nil, options.withDistance || options.withHash || options.withCoordinates {
            throw .message(form.command == .geosearchstore
                ? "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
                : "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
        }
        if options.any, options.count == 0 { throw .message("ERR the ANY argument requires COUNT argument") }
    }
}
