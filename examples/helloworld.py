"""Hello, hybrid terminal: a real shell decides the screen, the neural renderer draws it."""
from hybrid_nc import Session

with Session() as s:  # sandboxed bash + sympy, neural renderer; Session(renderer="raster") is exact
    step = s.run("echo 'hello, world' && python3 -c 'print(98 + 45)'")
    print(step.screen.text.rstrip())
    print(f"route={step.route} accuracy={step.accuracy} render={step.timings['render']:.0f} ms")
    step.frame.save("hello.png")
