import { Link } from '@tanstack/react-router';

export function NotFound() {
  return (
    <div>
      <h1>Page not found</h1>
      <p>
        This address is not a dashboard view. <Link to="/runs">Go to runs</Link>.
      </p>
    </div>
  );
}
