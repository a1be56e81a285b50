// Byte counts as Redis's INFO prints its `*_human` fields.

/// 1536 -> "1.50K", 500 -> "500.00B" (binary units, two decimals: Redis's bytesToHuman).
public func redisHumanBytes(_ bytes: Int) -> String {
    let units = ["B", "K", "M", "G", "T", "P"]
    var value = Double(max(bytes, 0)), unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    let hundredths = Int((value * 100).rounded())
    let fraction = hundredths % 100
    return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)\(units[unit])"
}
