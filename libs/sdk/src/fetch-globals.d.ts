// The generated client names the DOM type BodyInit in two casts. Node's own types, which the
// SDK is compiled against (Node 20+ has fetch built in), have fetch but not that name.
type BodyInit = NonNullable<RequestInit['body']>;
