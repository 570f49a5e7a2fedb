"""The code the course's notebooks share, one module per concept, in lesson order.

- ``schedules`` (Module 02): noise schedules and the forward process q(x_t | x0), in numpy and torch;
- ``data``, ``models``, ``training`` (03): two moons and the digits; the MLP and U-Net noise predictors;
  the simple loss, label dropout, EMA and the training loop;
- ``metrics`` (03): the digits classifier, Fréchet, kernel and energy distances;
- ``pretrained`` (04): the packaged digits U-Net (scripts/train_pretrained.py trains it);
- ``sampling`` (04): timesteps, one DDPM or DDIM step, and the sampling loop;
- ``guidance``, ``guidance_metrics`` (05): classifier-free guidance, and what its scale trades;
- ``sd`` (06): Stable Diffusion 1.5 with diffusers, and its tiny offline twin;
- ``ode``, ``flow`` (07): sampling as solving an ODE with diffusers' solvers; flow matching;
- ``editing`` (08): image-to-image, inpainting, DDIM inversion, interpolation; SD's img2img by hand;
- ``images``, ``plotting``, ``widgets``: the photographs, figures and widgets the lessons show;
- ``blanks``, ``quiz``, ``device``: the learner's tools (fill-in blanks, knowledge checks, torch threads).

A function moves here once a lesson has derived it, and its docstring names that lesson and section.
Teachers' and contributors' tools (grading, the sandbox, notebook execution, the doctor, the site)
live apart, in ``helpers.teach``, which no lesson imports. ``python -m helpers doctor`` checks your setup.
"""
