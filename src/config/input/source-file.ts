/** The text of one configuration input and the name to report it by (a path, or `<stdin>`). */
export interface SourceFile {
  readonly name: string;
  readonly text: string;
}
