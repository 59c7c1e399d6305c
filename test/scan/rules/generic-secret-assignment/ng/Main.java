class Main {
  static { System.setProperty("X_TOKEN", "{{alnum:12}}{{digit:4}}{{alnum:16}}"); }
  private static final String API_KEY = "{{alnum:12}}{{digit:4}}{{alnum:16}}";
}
