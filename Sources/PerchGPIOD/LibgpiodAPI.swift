extension LibgpiodBackend {
    /// Which libgpiod API this binary was built for and the library's own version, for
    /// `perch --version` and `perch doctor`: "libgpiod v1 API (library 1.6.3)".
    public static var apiDescription: String { "libgpiod v\(apiVersion) API (library \(libraryVersion))" }
}
